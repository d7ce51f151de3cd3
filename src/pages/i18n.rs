//! Message catalogues: every user-visible text of the pages, in Polish (the
//! default) and English, in `web/locales/{pl,en}.toml` (flat `key = "text"`).
//! Templates ask for a text with `t("key")`; the language of a request comes
//! from `?lang=`, then the `obrady_lang` cookie, then Polish.

use std::collections::BTreeMap;
use std::path::Path;

use axum::http::HeaderMap;

/// The languages the pages speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Pl,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Pl, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Pl => "pl",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "pl" => Some(Lang::Pl),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The other language (what the switch offers).
    pub fn other(self) -> Lang {
        match self {
            Lang::Pl => Lang::En,
            Lang::En => Lang::Pl,
        }
    }
}

/// The cookie that remembers a visitor's language (a preference, not an
/// identifier: it holds only `pl` or `en`).
pub const LANG_COOKIE: &str = "obrady_lang";

/// The language asked for: `?lang=` (then remembered), else the cookie,
/// else Polish. The second value says whether to set the cookie.
pub fn negotiate(query_lang: Option<&str>, headers: &HeaderMap) -> (Lang, bool) {
    if let Some(lang) = query_lang.and_then(Lang::parse) {
        return (lang, true);
    }
    let from_cookie = headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == LANG_COOKIE)
        .and_then(|(_, value)| Lang::parse(value.trim()));
    (from_cookie.unwrap_or_default(), false)
}

/// Both catalogues.
#[derive(Debug, Clone, Default)]
pub struct Catalogues {
    pl: BTreeMap<String, String>,
    en: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("cannot read the message catalogue {path}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("message catalogue {path}: {message}")]
    Parse { path: String, message: String },
    #[error("message catalogues differ: {0}")]
    Mismatch(String),
}

impl Catalogues {
    /// Reads `{dir}/pl.toml` and `{dir}/en.toml`; both must have the same
    /// keys, so no text is missing in either language.
    pub fn load(dir: &Path) -> Result<Catalogues, CatalogueError> {
        let read = |lang: Lang| -> Result<BTreeMap<String, String>, CatalogueError> {
            let path = dir.join(format!("{}.toml", lang.code()));
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|source| CatalogueError::Read {
                path: shown.clone(),
                source,
            })?;
            Self::parse(&shown, &text)
        };
        let c = Catalogues {
            pl: read(Lang::Pl)?,
            en: read(Lang::En)?,
        };
        c.check()?;
        Ok(c)
    }

    /// One catalogue's text: a flat TOML table of strings.
    pub fn parse(name: &str, text: &str) -> Result<BTreeMap<String, String>, CatalogueError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| CatalogueError::Parse {
            path: name.to_owned(),
            message: e.to_string(),
        })?;
        table
            .into_iter()
            .map(|(k, v)| match v {
                toml::Value::String(s) => Ok((k, s)),
                other => Err(CatalogueError::Parse {
                    path: name.to_owned(),
                    message: format!("{k}: expected a string, found {}", other.type_str()),
                }),
            })
            .collect()
    }

    fn check(&self) -> Result<(), CatalogueError> {
        let only = |a: &BTreeMap<String, String>, b: &BTreeMap<String, String>| {
            a.keys()
                .filter(|k| !b.contains_key(*k))
                .cloned()
                .collect::<Vec<_>>()
        };
        let (pl_only, en_only) = (only(&self.pl, &self.en), only(&self.en, &self.pl));
        if pl_only.is_empty() && en_only.is_empty() {
            return Ok(());
        }
        Err(CatalogueError::Mismatch(format!(
            "only in pl.toml: {pl_only:?}; only in en.toml: {en_only:?}"
        )))
    }

    fn table(&self, lang: Lang) -> &BTreeMap<String, String> {
        match lang {
            Lang::Pl => &self.pl,
            Lang::En => &self.en,
        }
    }

    /// The text for `key`, or `None` when the catalogue lacks it.
    pub fn get(&self, lang: Lang, key: &str) -> Option<&str> {
        self.table(lang).get(key).map(String::as_str)
    }

    /// Every text whose key starts with `prefix`, without the prefix: what a
    /// script needs (`player.*` for the player), handed to it as JSON.
    pub fn with_prefix(&self, lang: Lang, prefix: &str) -> BTreeMap<String, String> {
        self.table(lang)
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_owned(), v.clone())))
            .collect()
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.pl.keys()
    }

    #[cfg(test)]
    pub fn from_tables(pl: BTreeMap<String, String>, en: BTreeMap<String, String>) -> Self {
        Catalogues { pl, en }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_wins_then_cookie_then_polish() {
        let mut h = HeaderMap::new();
        assert_eq!(negotiate(None, &h), (Lang::Pl, false));
        h.insert("cookie", "a=b; obrady_lang=en".parse().unwrap());
        assert_eq!(negotiate(None, &h), (Lang::En, false));
        assert_eq!(negotiate(Some("pl"), &h), (Lang::Pl, true));
        assert_eq!(negotiate(Some("de"), &h), (Lang::En, false));
    }

    #[test]
    fn a_key_missing_in_one_language_is_named() {
        let pl = Catalogues::parse("pl", "a = \"A\"\nb = \"B\"").unwrap();
        let en = Catalogues::parse("en", "a = \"A\"").unwrap();
        let e = Catalogues::from_tables(pl, en).check().unwrap_err();
        assert!(e.to_string().contains("only in pl.toml: [\"b\"]"), "{e}");
        let e = Catalogues::parse("x.toml", "a = 1").unwrap_err();
        assert!(e.to_string().contains("x.toml") && e.to_string().contains("a: expected a string"));
    }

    #[test]
    fn the_shipped_catalogues_load_and_agree() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("web/locales");
        let c = Catalogues::load(&dir).unwrap();
        assert!(c.get(Lang::Pl, "site.name").is_some());
        assert_ne!(
            c.get(Lang::Pl, "nav.archive"),
            c.get(Lang::En, "nav.archive")
        );
    }
}
