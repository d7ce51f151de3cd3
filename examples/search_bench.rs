//! `cargo run --release --example search_bench`: latency of
//! `Catalog::search` on a catalog of 10,000 generated sessions, next to the
//! obvious alternative, a `LIKE '%word%'` scan of the same tables, for the
//! same queries.
//!
//! The catalog is built in a temporary directory (`$OBRADY_BENCH_DIR`, or
//! the system's) through the real `Catalog::create_session`, one durable
//! (fsynced) transaction per session as in production, so the search index
//! is filled by its triggers exactly as in production. Sessions are
//! generated from a fixed seed: 60 bodies (the councils of 15 towns of the
//! Łódź region and three committees of each) over 2010–2025, 10–25 agenda items each drawn from ~60
//! realistic title templates (with diacritics, street names, patrons,
//! villages) and resolution numbers in two styles ("DRM.0002.45.3.2025",
//! "XLV/612/25").
//!
//! Then 1,200 queries of six kinds (common words, rare words, without
//! diacritics, prefixes, resolution numbers, words of session and item
//! titles mixed), 200 of each, after 100 untimed warm-up queries. Each
//! query is timed end to end through `Catalog::search(q, 20)` (ranking,
//! highlighting, rows for the hits) and through the LIKE scan (limit 20, no
//! ranking: case folding for ASCII only, no diacritic folding, no
//! inflection). The exit status is non-zero only when something could not
//! be measured: slow numbers are reported, never judged.
//!
//! `SEARCH_BENCH_SESSIONS` changes the catalog size (default 10000);
//! `SEARCH_BENCH_KEEP=1` keeps the catalog file and prints its path.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use obrady::catalog::agenda::{AgendaItem, SessionDraft};
use obrady::catalog::db::Catalog;
use obrady::catalog::search::{fold, CANDIDATES};
use rusqlite::{Connection, OpenFlags};

const SEED: u64 = 0x0b4a_d1e5_2025;
const LIMIT: usize = 20;
const QUERIES_PER_KIND: usize = 200;
const WARM_UP: usize = 100;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("search_bench: could not measure: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let sessions: usize = match std::env::var("SEARCH_BENCH_SESSIONS") {
        Ok(v) => v.parse().context("SEARCH_BENCH_SESSIONS")?,
        Err(_) => 10_000,
    };
    let dir = match std::env::var_os("OBRADY_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .context("cannot create a temporary directory")?;
    let path = dir.path().join("catalog.db");
    println!("search_bench: catalog {}", path.display());

    // Build.
    let mut rng = Rng(SEED);
    let mut generator = Generator::default();
    let mut catalog = Catalog::open(&path).context("opening the catalog")?;
    let started = Instant::now();
    let mut generating = Duration::ZERO;
    let mut items = 0usize;
    for i in 0..sessions {
        let t = Instant::now();
        let draft = generator.session(&mut rng, i, sessions);
        generating += t.elapsed();
        items += draft.agenda.len();
        catalog
            .create_session(&draft, "bench")
            .with_context(|| format!("creating session {i}: {}", draft.title))?;
        if (i + 1) % 2000 == 0 {
            eprintln!(
                "  {} sessions in {:.1} s",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let build = started.elapsed();

    let peer = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .context("opening a second connection")?;
    peer.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .context("checkpoint")?;
    let file_bytes = std::fs::metadata(&path)?.len()
        + std::fs::metadata(path.with_extension("db-wal")).map_or(0, |m| m.len());
    let index_bytes: i64 = peer
        .query_row(
            "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name LIKE 'search_index%'",
            [],
            |r| r.get(0),
        )
        .context("dbstat")?;
    let sqlite_version: String = peer.query_row("SELECT sqlite_version()", [], |r| r.get(0))?;

    // Queries.
    let queries = generator.queries(&mut rng);
    for (_, q) in queries.iter().take(WARM_UP) {
        catalog.search(q, LIMIT)?;
        like_search(&peer, q)?;
    }
    let mut results: Vec<(Kind, Sample, Sample)> = Vec::new();
    for (kind, q) in &queries {
        let t = Instant::now();
        let hits = catalog
            .search(q, LIMIT)
            .with_context(|| format!("search {q:?}"))?
            .len();
        let fts = Sample {
            ms: t.elapsed().as_secs_f64() * 1e3,
            hits,
        };
        let t = Instant::now();
        let hits = like_search(&peer, q).with_context(|| format!("LIKE {q:?}"))?;
        let like = Sample {
            ms: t.elapsed().as_secs_f64() * 1e3,
            hits,
        };
        results.push((*kind, fts, like));
    }

    // Report.
    let mib = |b: f64| b / (1024.0 * 1024.0);
    println!();
    println!(
        "catalog   {sessions} sessions, {items} agenda items ({:.1} per session), \
         {:.1} MiB file, of which search index {:.1} MiB; SQLite {sqlite_version}",
        items as f64 / sessions as f64,
        mib(file_bytes as f64),
        mib(index_bytes as f64),
    );
    println!(
        "build     {:.1} s: {sessions} × Catalog::create_session, one fsynced transaction each \
         ({:.2} ms per session; generating the drafts took {:.2} s of it)",
        build.as_secs_f64(),
        build.as_secs_f64() * 1e3 / sessions as f64,
        generating.as_secs_f64(),
    );
    println!(
        "queries   {} timed ({QUERIES_PER_KIND} per kind) after {WARM_UP} warm-up; limit {LIMIT}; \
         bm25 over the newest {CANDIDATES} matches; load average at the end: {}",
        results.len(),
        std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|_| "?".into())
    );
    println!();
    println!(
        "{:<13}│{:^45}│{:^45}",
        "", "Catalog::search (FTS5, bm25)", "LIKE '%word%' scan (no ranking)"
    );
    let header = format!(
        "{:>7} {:>7} {:>7} {:>7} {:>7} {:>7}",
        "p50 ms", "p95", "p99", "max", "hits/q", "0-hit"
    );
    println!("{:<13}│ {header:<44}│ {header:<44}", "query kind");
    println!("{}", "─".repeat(13 + 1 + 45 + 1 + 45));
    let mut kinds: Vec<Option<Kind>> = Kind::ALL.iter().copied().map(Some).collect();
    kinds.push(None);
    for kind in kinds {
        let rows: Vec<&(Kind, Sample, Sample)> = results
            .iter()
            .filter(|(k, _, _)| kind.is_none_or(|kind| *k == kind))
            .collect();
        let fts: Vec<Sample> = rows.iter().map(|r| r.1).collect();
        let like: Vec<Sample> = rows.iter().map(|r| r.2).collect();
        if kind.is_none() {
            println!("{}", "─".repeat(13 + 1 + 45 + 1 + 45));
        }
        println!(
            "{:<13}│ {:<44}│ {:<44}",
            kind.map_or("all", Kind::name),
            stats(&fts),
            stats(&like)
        );
    }
    println!();
    println!("examples (FTS hits / LIKE hits):");
    for kind in Kind::ALL {
        let shown: Vec<String> = queries
            .iter()
            .zip(&results)
            .filter(|((k, _), _)| *k == kind)
            .take(4)
            .map(|((_, q), (_, f, l))| format!("{q:?} {}/{}", f.hits, l.hits))
            .collect();
        println!("  {:<12} {}", kind.name(), shown.join(", "));
    }
    let slowest = results
        .iter()
        .zip(&queries)
        .max_by(|a, b| a.0 .1.ms.total_cmp(&b.0 .1.ms))
        .map(|((_, f, _), (_, q))| format!("{q:?} {:.2} ms", f.ms))
        .unwrap_or_default();
    println!("slowest search: {slowest}");
    drop(peer);
    drop(catalog);
    if std::env::var_os("SEARCH_BENCH_KEEP").is_some() {
        println!("kept {}", dir.keep().display());
    } else {
        dir.close().context("removing the temporary catalog")?;
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    ms: f64,
    hits: usize,
}

fn stats(samples: &[Sample]) -> String {
    let mut ms: Vec<f64> = samples.iter().map(|s| s.ms).collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| -> f64 {
        if ms.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * ms.len() as f64).ceil() as usize;
        ms[rank.clamp(1, ms.len()) - 1]
    };
    let hits = samples.iter().map(|s| s.hits).sum::<usize>() as f64 / samples.len().max(1) as f64;
    let zero =
        samples.iter().filter(|s| s.hits == 0).count() as f64 * 100.0 / samples.len().max(1) as f64;
    format!(
        "{:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>7.1} {:>6.0}%",
        pct(50.0),
        pct(95.0),
        pct(99.0),
        ms.last().copied().unwrap_or(f64::NAN),
        hits,
        zero
    )
}

/// The naive peer: every word somewhere in the item's title, resolution or
/// session title, `LIKE '%word%'` (SQLite's LIKE folds ASCII case only).
fn like_search(conn: &Connection, query: &str) -> Result<usize> {
    let words: Vec<String> = query
        .split_whitespace()
        .map(|w| {
            let escaped = w
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        })
        .collect();
    let mut sql = String::from(
        "SELECT s.id, a.number FROM agenda_items a JOIN sessions s ON s.id = a.session_id WHERE 1",
    );
    for i in 1..=words.len() {
        sql.push_str(&format!(
            " AND (a.title LIKE ?{i} ESCAPE '\\' OR a.resolution_draft LIKE ?{i} ESCAPE '\\' \
             OR s.title LIKE ?{i} ESCAPE '\\')"
        ));
    }
    sql.push_str(&format!(" LIMIT {LIMIT}"));
    let mut stmt = conn.prepare_cached(&sql)?;
    let n = stmt
        .query_map(rusqlite::params_from_iter(words.iter()), |_| Ok(()))?
        .count();
    Ok(n)
}

// ---------------------------------------------------------------------------
// Generated catalog

/// SplitMix64: small, seeded, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn range(&mut self, lo: usize, hi_inclusive: usize) -> usize {
        lo + self.below(hi_inclusive - lo + 1)
    }
    fn pick<'a, T: ?Sized>(&mut self, xs: &'a [&'a T]) -> &'a T {
        xs[self.below(xs.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// A town: the council's body name, the town in the genitive (for titles)
/// and the resolution-number style of its office.
struct Town {
    council: &'static str,
    genitive: &'static str,
    /// `Some(prefix)`: drafts like "DRM.0002.45.3.2025"; `None`: adopted
    /// numbers like "XLV/612/25".
    draft_prefix: Option<&'static str>,
}

const TOWNS: &[Town] = &[
    Town {
        council: "Rada Miasta Piotrkowa Trybunalskiego",
        genitive: "Miasta Piotrkowa Trybunalskiego",
        draft_prefix: Some("DRM.0002"),
    },
    Town {
        council: "Rada Miejska w Łodzi",
        genitive: "Miasta Łodzi",
        draft_prefix: None,
    },
    Town {
        council: "Rada Miejska w Bełchatowie",
        genitive: "Miasta Bełchatowa",
        draft_prefix: Some("BRM.0007"),
    },
    Town {
        council: "Rada Miejska w Tomaszowie Mazowieckim",
        genitive: "Miasta Tomaszowa Mazowieckiego",
        draft_prefix: None,
    },
    Town {
        council: "Rada Gminy Wola Krzysztoporska",
        genitive: "Gminy Wola Krzysztoporska",
        draft_prefix: Some("RG.0002"),
    },
    Town {
        council: "Rada Miasta Radomska",
        genitive: "Miasta Radomska",
        draft_prefix: Some("BR.0002"),
    },
    Town {
        council: "Rada Miasta Zgierza",
        genitive: "Miasta Zgierza",
        draft_prefix: None,
    },
    Town {
        council: "Rada Miejska w Pabianicach",
        genitive: "Miasta Pabianic",
        draft_prefix: Some("OR.0002"),
    },
    Town {
        council: "Rada Miasta Kutno",
        genitive: "Miasta Kutno",
        draft_prefix: None,
    },
    Town {
        council: "Rada Miasta Skierniewice",
        genitive: "Miasta Skierniewice",
        draft_prefix: Some("BRM.0002"),
    },
    Town {
        council: "Rada Miejska w Sieradzu",
        genitive: "Miasta Sieradza",
        draft_prefix: None,
    },
    Town {
        council: "Rada Miasta Zduńska Wola",
        genitive: "Miasta Zduńska Wola",
        draft_prefix: Some("RM.0007"),
    },
    Town {
        council: "Rada Miejska w Łowiczu",
        genitive: "Miasta Łowicza",
        draft_prefix: None,
    },
    Town {
        council: "Rada Miejska w Opocznie",
        genitive: "Gminy Opoczno",
        draft_prefix: Some("OR.0002"),
    },
    Town {
        council: "Rada Miejska w Wieluniu",
        genitive: "Gminy Wieluń",
        draft_prefix: None,
    },
    Town {
        council: "Rada Miejska w Łasku",
        genitive: "Gminy Łask",
        draft_prefix: Some("RM.0002"),
    },
];

/// Committees: (name, name in the genitive).
const COMMITTEES: &[(&str, &str)] = &[
    ("Komisja Budżetu i Finansów", "Komisji Budżetu i Finansów"),
    (
        "Komisja Oświaty, Kultury i Sportu",
        "Komisji Oświaty, Kultury i Sportu",
    ),
    (
        "Komisja Gospodarki Komunalnej i Ochrony Środowiska",
        "Komisji Gospodarki Komunalnej i Ochrony Środowiska",
    ),
];

const STREETS: &[&str] = &[
    "Słowackiego",
    "Żeromskiego",
    "Kościuszki",
    "Wojska Polskiego",
    "Łódzkiej",
    "Śląskiej",
    "Źródlanej",
    "Piłsudskiego",
    "Mickiewicza",
    "Sienkiewicza",
    "Kilińskiego",
    "Próchnika",
    "Rzemieślniczej",
    "Żelaznej",
    "Świerkowej",
    "Łąkowej",
    "Brzozowej",
    "Jesionowej",
    "Dąbrowskiego",
    "Wróblewskiego",
    "Szkolnej",
    "Ogrodowej",
    "Spacerowej",
    "Sulejowskiej",
    "Wolborskiej",
    "Żwirki i Wigury",
    "Narutowicza",
    "Roosevelta",
    "Krakowskie Przedmieście",
    "Pułaskiego",
    "Grota-Roweckiego",
    "Armii Krajowej",
    "Targowej",
    "Zamurowej",
    "Rwańskiej",
    "Garncarskiej",
    "Farnej",
    "Starowarszawskiej",
    "Jerozolimskiej",
    "Przechodniej",
];

const PATRONS: &[&str] = &[
    "Jana Pawła II",
    "Marii Skłodowskiej-Curie",
    "Tadeusza Kościuszki",
    "Wisławy Szymborskiej",
    "Stanisława Wyspiańskiego",
    "Ireny Sendlerowej",
    "Witolda Pileckiego",
    "Krzysztofa Kamila Baczyńskiego",
    "Janusza Korczaka",
    "Henryka Sienkiewicza",
    "Bolesława Prusa",
    "Józefa Piłsudskiego",
    "Stefana Żeromskiego",
    "Marii Konopnickiej",
    "Fryderyka Chopina",
    "Mikołaja Kopernika",
    "Władysława Reymonta",
    "Juliana Tuwima",
    "Ignacego Łukasiewicza",
    "Elżbiety Zawackiej",
];

const VILLAGES: &[&str] = &[
    "Meszcze",
    "Bujny",
    "Moszczenica",
    "Gomulin",
    "Jeżów",
    "Łęczno",
    "Żerechowa",
    "Szczekanica",
    "Gąsiorowice",
    "Krężna",
    "Parzniewice",
    "Oprzężów",
    "Kałek",
    "Świerczów",
    "Ręczno",
    "Włodzimierzów",
    "Bąkowa Góra",
    "Dąbrowa nad Czarną",
    "Kolonia Łazy",
    "Śmiechów",
    "Źrebięta",
    "Żarnów",
    "Sulejów",
    "Milejów",
    "Rozprza",
    "Grabica",
    "Łochyńsko",
    "Cieśle",
    "Straszów",
    "Bogusławice",
];

const SCHOOLS: &[&str] = &[
    "Szkole Podstawowej",
    "Przedszkolu Miejskiemu",
    "Zespołowi Szkół Ponadpodstawowych",
    "Liceum Ogólnokształcącemu",
    "Młodzieżowemu Domowi Kultury",
];

const INSTITUTIONS: &[&str] = &[
    "Miejskiego Ośrodka Pomocy Rodzinie",
    "Zarządu Dróg i Utrzymania Miasta",
    "Miejskiego Centrum Kultury",
    "Ośrodka Sportu i Rekreacji",
    "Żłobka Miejskiego",
    "Miejskiej Biblioteki Publicznej",
    "Powiatowego Urzędu Pracy",
    "Zakładu Gospodarki Mieszkaniowej",
];

const PETITIONS: &[&str] = &[
    "budowy ścieżki rowerowej wzdłuż ulicy",
    "ograniczenia prędkości na ulicy",
    "wycinki drzew przy ulicy",
    "oświetlenia przejścia dla pieszych na ulicy",
    "utworzenia parku kieszonkowego przy ulicy",
    "remontu chodnika na ulicy",
];

const MONUMENTS: &[&str] = &[
    "kościół farny pw. św. Jakuba",
    "kamienica przy Rynku Trybunalskim 8",
    "synagoga",
    "dworzec kolejowy",
    "dwór w Śmiechowie",
    "kaplica cmentarna",
    "zespół klasztorny ojców Bernardynów",
    "młyn wodny na Strawie",
];

const PEOPLE: &[&str] = &[
    "Janowi Kowalskiemu",
    "Annie Wiśniewskiej",
    "Zofii Wójcik",
    "Krzysztofowi Kamińskiemu",
    "Małgorzacie Lewandowskiej",
    "Grzegorzowi Zielińskiemu",
    "Agnieszce Szymańskiej",
    "Łukaszowi Woźniakowi",
    "Katarzynie Dąbrowskiej",
    "Tomaszowi Kozłowskiemu",
];

const CLUBS: &[&str] = &[
    "klubu Piotrcovia",
    "klubu Concordia",
    "klubu Skra Bełchatów",
    "klubu Lechia Tomaszów",
    "Uczniowskiego Klubu Sportowego Żak",
];

const COMPANIES: &[&str] = &[
    "Miejskie Przedsiębiorstwo Gospodarki Komunalnej sp. z o.o.",
    "Zakład Wodociągów i Kanalizacji sp. z o.o.",
    "Miejski Zakład Komunikacji sp. z o.o.",
    "Przedsiębiorstwo Energetyki Cieplnej S.A.",
];

/// Agenda-item title templates. Placeholders: {Y} the session's year, {Y1}
/// the next, {Y0} the previous, {Y10} ten years on, {CITY} the town in the
/// genitive, {ST}/{ST2} streets, {PAT} a patron, {VIL} a village, {SCH} a
/// school, {N} a small number, {PLOT} a plot number, {INST} an institution,
/// {PET} a petition's subject, {MON} a monument, {PER} a person, {CLUB},
/// {CO} a company, {REF} an earlier resolution's number.
const TEMPLATES: &[&str] = &[
    "Podjęcie uchwały w sprawie zmiany Wieloletniej Prognozy Finansowej {CITY} na lata {Y}-{Y10}",
    "Podjęcie uchwały w sprawie zmian budżetu {CITY} na {Y} rok",
    "Podjęcie uchwały w sprawie uchwalenia budżetu {CITY} na {Y1} rok",
    "Podjęcie uchwały w sprawie określenia wysokości stawek podatku od nieruchomości na {Y1} rok",
    "Podjęcie uchwały w sprawie zwolnień od podatku od nieruchomości dla przedsiębiorców tworzących nowe miejsca pracy",
    "Podjęcie uchwały w sprawie określenia wysokości stawek podatku od środków transportowych na {Y1} rok",
    "Podjęcie uchwały w sprawie obniżenia średniej ceny skupu żyta przyjmowanej jako podstawa obliczania podatku rolnego na {Y1} rok",
    "Podjęcie uchwały w sprawie nadania nazwy ulicy {PAT}",
    "Podjęcie uchwały w sprawie nadania nazwy rondu u zbiegu ulic {ST} i {ST2}",
    "Podjęcie uchwały w sprawie nadania imienia {PAT} {SCH} nr {N}",
    "Podjęcie uchwały w sprawie przyjęcia Programu Współpracy {CITY} z organizacjami pozarządowymi na {Y1} rok",
    "Podjęcie uchwały w sprawie przyjęcia Gminnego Programu Profilaktyki i Rozwiązywania Problemów Alkoholowych na {Y1} rok",
    "Podjęcie uchwały w sprawie przyjęcia Programu opieki nad zwierzętami bezdomnymi oraz zapobiegania bezdomności zwierząt na {Y} rok",
    "Podjęcie uchwały w sprawie miejscowego planu zagospodarowania przestrzennego terenu położonego w rejonie ulicy {ST}",
    "Podjęcie uchwały w sprawie przystąpienia do sporządzenia miejscowego planu zagospodarowania przestrzennego dla obrębu {VIL}",
    "Podjęcie uchwały w sprawie wyrażenia zgody na sprzedaż nieruchomości położonej przy ulicy {ST} (działka nr {PLOT})",
    "Podjęcie uchwały w sprawie wyrażenia zgody na nabycie nieruchomości gruntowej w obrębie {VIL}",
    "Podjęcie uchwały w sprawie wyrażenia zgody na zawarcie umowy dzierżawy nieruchomości przy ulicy {ST} na okres powyżej 3 lat",
    "Podjęcie uchwały w sprawie regulaminu utrzymania czystości i porządku na terenie {CITY}",
    "Podjęcie uchwały w sprawie wyboru metody ustalenia opłaty za gospodarowanie odpadami komunalnymi oraz ustalenia stawki tej opłaty",
    "Podjęcie uchwały w sprawie regulaminu dostarczania wody i odprowadzania ścieków",
    "Podjęcie uchwały w sprawie ustalenia cen za usługi przewozowe w publicznym transporcie zbiorowym",
    "Podjęcie uchwały w sprawie ustalenia strefy płatnego parkowania na ulicy {ST}",
    "Podjęcie uchwały w sprawie rozpatrzenia skargi na działalność Dyrektora {INST}",
    "Podjęcie uchwały w sprawie rozpatrzenia petycji dotyczącej {PET} {ST}",
    "Podjęcie uchwały w sprawie udzielenia pomocy finansowej Powiatowi Piotrkowskiemu na przebudowę drogi w miejscowości {VIL}",
    "Podjęcie uchwały w sprawie zaciągnięcia długoterminowej pożyczki z Wojewódzkiego Funduszu Ochrony Środowiska i Gospodarki Wodnej w Łodzi",
    "Podjęcie uchwały w sprawie emisji obligacji komunalnych oraz określenia zasad ich zbywania, nabywania i wykupu",
    "Podjęcie uchwały w sprawie udzielenia dotacji na prace konserwatorskie przy zabytku wpisanym do rejestru zabytków: {MON}",
    "Podjęcie uchwały w sprawie likwidacji {SCH} nr {N}",
    "Podjęcie uchwały w sprawie ustalenia sieci publicznych przedszkoli i oddziałów przedszkolnych w szkołach podstawowych",
    "Podjęcie uchwały w sprawie wynagrodzenia Prezydenta Miasta",
    "Podjęcie uchwały w sprawie zmiany Statutu {CITY}",
    "Podjęcie uchwały w sprawie powołania Młodzieżowej Rady Miasta",
    "Podjęcie uchwały w sprawie wyboru ławników do sądów powszechnych na kadencję {Y1}-{Y10}",
    "Podjęcie uchwały w sprawie nadania tytułu Honorowego Obywatela {CITY} {PER}",
    "Podjęcie uchwały w sprawie przyjęcia planu pracy Komisji Rewizyjnej na {Y1} rok",
    "Podjęcie uchwały w sprawie zatwierdzenia sprawozdania finansowego wraz ze sprawozdaniem z wykonania budżetu za {Y0} rok",
    "Podjęcie uchwały w sprawie udzielenia wotum zaufania Prezydentowi Miasta",
    "Podjęcie uchwały w sprawie absolutorium z tytułu wykonania budżetu za {Y0} rok",
    "Rozpatrzenie Raportu o stanie {CITY} za {Y0} rok",
    "Sprawozdanie z realizacji Programu Współpracy z organizacjami pozarządowymi za {Y0} rok",
    "Informacja o stanie realizacji zadań oświatowych za rok szkolny {Y0}/{Y}",
    "Sprawozdanie z działalności {INST} za {Y0} rok",
    "Informacja o przebiegu wykonania budżetu za I półrocze {Y} roku",
    "Podjęcie uchwały w sprawie przyjęcia Strategii Rozwoju {CITY} na lata {Y}-{Y10}",
    "Podjęcie uchwały w sprawie Gminnego Programu Rewitalizacji dla obszaru ulic {ST} i {ST2}",
    "Podjęcie uchwały w sprawie zasad udzielania dotacji celowej na wymianę pieców węglowych (program „Czyste Powietrze”)",
    "Podjęcie uchwały w sprawie określenia zasad przyznawania stypendiów sportowych dla zawodników {CLUB}",
    "Podjęcie uchwały w sprawie budżetu obywatelskiego na {Y1} rok",
    "Podjęcie uchwały w sprawie zmiany uchwały nr {REF} w sprawie regulaminu targowisk miejskich",
    "Podjęcie uchwały w sprawie uchylenia uchwały nr {REF}",
    "Podjęcie uchwały w sprawie wyrażenia opinii o lokalizacji kasyna gry przy ulicy {ST}",
    "Podjęcie uchwały w sprawie ustanowienia pomnika przyrody – dąb szypułkowy w miejscowości {VIL}",
    "Podjęcie uchwały w sprawie zasad wynajmowania lokali wchodzących w skład mieszkaniowego zasobu {CITY}",
    "Podjęcie uchwały w sprawie dopłat do taryfy za zbiorowe zaopatrzenie w wodę",
    "Podjęcie uchwały w sprawie przyznania Nagrody Artystycznej {CITY} za {Y0} rok {PER}",
    "Ślubowanie radnego",
    "Wybór Wiceprzewodniczącego Rady",
    "Podjęcie uchwały w sprawie powierzenia spółce {CO} zadań własnych z zakresu gospodarki odpadami",
];

/// Items that open and close every agenda (council / committee).
const OPENING: &[&str] = &[
    "Otwarcie sesji i stwierdzenie prawomocności obrad",
    "Przyjęcie porządku obrad",
    "Przyjęcie protokołu z poprzedniej sesji",
    "Informacja Prezydenta Miasta o działalności w okresie między sesjami",
];
const CLOSING: &[&str] = &[
    "Interpelacje i zapytania radnych",
    "Wolne wnioski i informacje",
    "Zamknięcie sesji",
];

#[derive(Default)]
struct Generator {
    /// Per body: sessions held so far (the Roman number in titles).
    counters: std::collections::HashMap<(String, usize), usize>,
    /// Per town: resolutions adopted so far.
    resolutions: std::collections::HashMap<(&'static str, usize), usize>,
    /// Every resolution number generated, for the queries.
    numbers: Vec<String>,
    /// Every title word of 5+ letters, for prefix queries.
    vocabulary: std::collections::BTreeSet<String>,
}

impl Generator {
    /// Session `i` of `n`: dates spread evenly over 2010–2025.
    fn session(&mut self, rng: &mut Rng, i: usize, n: usize) -> SessionDraft {
        let day = (i as f64 / n as f64 * 16.0 * 365.0) as i64;
        let date = time::macros::date!(2010 - 01 - 04) + time::Duration::days(day);
        let year = date.year() as usize;
        let town = &TOWNS[rng.below(TOWNS.len())];
        let committee = if rng.chance(40) {
            Some(COMMITTEES[rng.below(COMMITTEES.len())])
        } else {
            None
        };
        let body = match committee {
            Some((name, _)) => format!("{name} {}", town.genitive.replace("Miasta", "Rady Miasta")),
            None => town.council.to_string(),
        };
        // Sessions are numbered afresh in every five-year term.
        let term = (year - 2010) / 5;
        let counter = self.counters.entry((body.clone(), term)).or_default();
        *counter += 1;
        let number = *counter;
        let extraordinary = committee.is_none() && rng.chance(8);
        let title = match committee {
            Some((_, genitive)) => format!("Posiedzenie nr {number}/{year} {genitive}"),
            None => format!(
                "{} {}Sesja {}",
                roman(number),
                if extraordinary { "Nadzwyczajna " } else { "" },
                town.council
                    .replacen("Rada", "Rady", 1)
                    .replace("Miejska", "Miejskiej")
            ),
        };
        let mut agenda = Vec::new();
        fn push(agenda: &mut Vec<AgendaItem>, title: String, resolution: Option<String>) {
            let n = agenda.len() + 1;
            agenda.push(AgendaItem {
                number: n.to_string(),
                title,
                resolution_draft: resolution,
            });
        }
        let (opening, closing): (Vec<String>, Vec<String>) = match committee {
            Some(_) => (
                vec![
                    "Otwarcie posiedzenia".into(),
                    "Przyjęcie porządku posiedzenia".into(),
                    "Przyjęcie protokołu z poprzedniego posiedzenia".into(),
                ],
                vec!["Sprawy bieżące".into(), "Zamknięcie posiedzenia".into()],
            ),
            None => (
                OPENING.iter().map(|s| s.to_string()).collect(),
                CLOSING.iter().map(|s| s.to_string()).collect(),
            ),
        };
        let total = rng.range(10, 25);
        let middle = total.saturating_sub(opening.len() + closing.len());
        for t in opening {
            push(&mut agenda, t, None);
        }
        for k in 0..middle {
            let template = TEMPLATES[rng.below(TEMPLATES.len())];
            let mut text = self.fill(rng, template, town, year);
            if committee.is_some() {
                text = text.replacen("Podjęcie uchwały", "Zaopiniowanie projektu uchwały", 1);
            }
            let resolution = text.contains("uchwały").then(|| {
                let adopted = self.resolutions.entry((town.genitive, term)).or_default();
                *adopted += 1;
                match town.draft_prefix {
                    Some(prefix) => format!("{prefix}.{number}.{}.{year}", k + 1),
                    None => format!("{}/{}/{:02}", roman(number), *adopted, year % 100),
                }
            });
            if let Some(r) = &resolution {
                self.numbers.push(r.clone());
            }
            push(&mut agenda, text, resolution);
        }
        // Now and then an item added late: "7a".
        if agenda.len() > 6 && rng.chance(15) {
            let at = rng.range(4, agenda.len() - 2);
            let base = agenda[at - 1].number.clone();
            let template = TEMPLATES[rng.below(TEMPLATES.len())];
            agenda.insert(
                at,
                AgendaItem {
                    number: format!("{base}a"),
                    title: self.fill(rng, template, town, year),
                    resolution_draft: None,
                },
            );
        }
        for t in closing {
            push(&mut agenda, t, None);
        }
        for item in &agenda {
            for w in item.title.split(|c: char| !c.is_alphanumeric()) {
                if w.chars().count() >= 5 && w.chars().all(char::is_alphabetic) {
                    self.vocabulary.insert(w.to_string());
                }
            }
        }
        SessionDraft {
            body,
            title,
            kind: Some(
                if extraordinary {
                    "nadzwyczajna"
                } else {
                    "zwyczajna"
                }
                .into(),
            ),
            term: None,
            scheduled_start: Some(format!("{date}T{:02}:00:00+01:00", rng.range(9, 16))),
            place: None,
            chair: None,
            agenda,
        }
    }

    fn fill(&self, rng: &mut Rng, template: &str, town: &Town, year: usize) -> String {
        let mut s = template
            .replace("{Y10}", &(year + 10).to_string())
            .replace("{Y1}", &(year + 1).to_string())
            .replace("{Y0}", &(year - 1).to_string())
            .replace("{Y}", &year.to_string())
            .replace("{CITY}", town.genitive);
        let slots: &[(&str, &[&str])] = &[
            ("{ST}", STREETS),
            ("{ST2}", STREETS),
            ("{PAT}", PATRONS),
            ("{VIL}", VILLAGES),
            ("{SCH}", SCHOOLS),
            ("{INST}", INSTITUTIONS),
            ("{PET}", PETITIONS),
            ("{MON}", MONUMENTS),
            ("{PER}", PEOPLE),
            ("{CLUB}", CLUBS),
            ("{CO}", COMPANIES),
        ];
        for (slot, values) in slots {
            if s.contains(slot) {
                s = s.replace(slot, rng.pick(values));
            }
        }
        if s.contains("{N}") {
            s = s.replace("{N}", &rng.range(1, 24).to_string());
        }
        if s.contains("{PLOT}") {
            s = s.replace(
                "{PLOT}",
                &format!("{}/{}", rng.range(1, 999), rng.range(1, 30)),
            );
        }
        if s.contains("{REF}") {
            let r = if self.numbers.is_empty() {
                "XII/150/11".to_string()
            } else {
                self.numbers[rng.below(self.numbers.len())].clone()
            };
            s = s.replace("{REF}", &r);
        }
        s
    }

    /// 200 queries of each kind, shuffled together.
    fn queries(&self, rng: &mut Rng) -> Vec<(Kind, String)> {
        const COMMON: &[&str] = &[
            "uchwały",
            "w sprawie",
            "budżetu",
            "podatku",
            "sesji",
            "nieruchomości",
            "Podjęcie uchwały",
            "zmian budżetu",
            "programu",
            "miasta",
            "rok",
            "sprawozdanie",
            "uchwała",
            "ulicy",
            "podatek od nieruchomości",
        ];
        let rare: Vec<&str> = PATRONS
            .iter()
            .chain(VILLAGES)
            .chain(MONUMENTS)
            .chain(PEOPLE)
            .chain(CLUBS)
            .copied()
            .chain([
                "dąb szypułkowy",
                "kasyna",
                "ławników",
                "żyta",
                "pieców węglowych",
                "obligacji",
                "targowisk",
                "Młodzieżowej Rady",
            ])
            .collect();
        let nonsense = ["xyzzy", "kwazar", "Żyrafa", "teleportacja", "ABC/999/99"];
        let vocabulary: Vec<&String> = self.vocabulary.iter().collect();
        let mut out = Vec::new();
        for _ in 0..QUERIES_PER_KIND {
            out.push((Kind::Common, rng.pick(COMMON).to_string()));
            out.push((
                Kind::Rare,
                if rng.chance(10) {
                    rng.pick(&nonsense).to_string()
                } else {
                    // The most distinctive (longest) word, as people type it.
                    let r = rare[rng.below(rare.len())];
                    r.split_whitespace()
                        .max_by_key(|w| w.chars().count())
                        .unwrap_or(r)
                        .to_string()
                },
            ));
            let with_diacritics = loop {
                let q = if rng.chance(50) {
                    rng.pick(COMMON).to_string()
                } else {
                    rare[rng.below(rare.len())].to_string()
                };
                if fold(&q) != q {
                    break q;
                }
            };
            out.push((Kind::NoDiacritics, fold(&with_diacritics).to_lowercase()));
            let word = vocabulary[rng.below(vocabulary.len())];
            let chars: Vec<char> = word.chars().collect();
            let cut = rng.range(3, chars.len() - 1);
            out.push((Kind::Prefix, chars[..cut].iter().collect()));
            let number = &self.numbers[rng.below(self.numbers.len())];
            out.push((
                Kind::Resolution,
                if rng.chance(20) {
                    // A prefix: the session's part of a draft number.
                    number
                        .rsplit_once(['.', '/'])
                        .map_or(number.clone(), |(head, _)| head.to_string())
                } else {
                    number.clone()
                },
            ));
            let town = &TOWNS[rng.below(TOWNS.len())];
            let mixed = match rng.below(4) {
                0 => format!("{} sesja budżet", roman(rng.range(1, 60))),
                1 => format!(
                    "{} podatek",
                    town.genitive.split_whitespace().last().unwrap_or("Łodzi")
                ),
                2 => format!("posiedzenie {} {}", rng.range(1, 40), rng.range(2010, 2025)),
                _ => format!(
                    "Komisji Budżetu {}",
                    rng.pick(&["uchwała", "sprawozdanie", "opinia"])
                ),
            };
            out.push((Kind::Mixed, mixed));
        }
        // Shuffle (Fisher–Yates) so no kind enjoys a warmer cache.
        for i in (1..out.len()).rev() {
            out.swap(i, rng.below(i + 1));
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Common,
    Rare,
    NoDiacritics,
    Prefix,
    Resolution,
    Mixed,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Common,
        Kind::Rare,
        Kind::NoDiacritics,
        Kind::Prefix,
        Kind::Resolution,
        Kind::Mixed,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Common => "common",
            Kind::Rare => "rare",
            Kind::NoDiacritics => "no diacritics",
            Kind::Prefix => "prefix",
            Kind::Resolution => "resolution",
            Kind::Mixed => "mixed",
        }
    }
}

fn roman(mut n: usize) -> String {
    const DIGITS: &[(usize, &str)] = &[
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut out = String::new();
    for &(value, digits) in DIGITS {
        while n >= value {
            out.push_str(digits);
            n -= value;
        }
    }
    out
}
