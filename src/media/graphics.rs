//! The lower third: a caption over the bottom of the programme picture,
//! driven by the session (the current agenda item) and by the operator (a
//! speaker's name and role, the "Głosowanie" banner). It is drawn in the
//! encode graph (a `textoverlay` on the program branch, before the privacy
//! switch), so it is in every rendition and in the recording, and never on
//! the slate of a non-public part.
//!
//! [`Graphics`] is plain shared state (no GStreamer): the HTTP side writes
//! it, a probe in the streaming thread reads it per frame (see
//! `pipeline::attach_lower_third`) and updates the overlay when it changed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// What the operator shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphicsState {
    /// The current agenda item's line, e.g. "Punkt 7a: Uchwała w sprawie …",
    /// set when an item begins.
    pub item: Option<String>,
    /// Whether the item's line is shown (the operator can hide it).
    pub show_item: bool,
    /// A speaker's name and role, shown instead of the item while set.
    pub speaker: Option<(String, String)>,
    /// The vote banner, shown over everything else while on.
    pub vote: bool,
}

/// A channel's lower third, shared by HTTP (writer) and the encode graph.
#[derive(Debug)]
pub struct Graphics {
    state: Mutex<GraphicsState>,
    /// Bumped on every change, so the streaming thread compares a number.
    version: AtomicU64,
}

impl Default for Graphics {
    fn default() -> Self {
        Graphics {
            state: Mutex::new(GraphicsState {
                show_item: true,
                ..GraphicsState::default()
            }),
            version: AtomicU64::new(1),
        }
    }
}

/// The vote banner's words.
pub const VOTE_BANNER: &str = "Głosowanie";

impl Graphics {
    pub fn state(&self) -> GraphicsState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }

    /// Changes the state; returns the new one.
    pub fn update(&self, change: impl FnOnce(&mut GraphicsState)) -> GraphicsState {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        change(&mut s);
        self.version.fetch_add(1, Ordering::SeqCst);
        s.clone()
    }

    /// The caption as Pango markup, or `None` when nothing is shown.
    pub fn markup(&self) -> Option<String> {
        caption(&self.state())
    }
}

/// The lower third's line for agenda item `number` titled `title`.
pub fn item_line(number: &str, title: &str) -> String {
    format!("Punkt {number}: {title}")
}

/// The caption of a state, as Pango markup (text escaped).
pub fn caption(s: &GraphicsState) -> Option<String> {
    let esc = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let item = s.item.as_deref().filter(|_| s.show_item);
    if s.vote {
        return Some(match item {
            Some(i) => format!("<b>{}</b>  {}", esc(VOTE_BANNER), esc(i)),
            None => format!("<b>{}</b>", esc(VOTE_BANNER)),
        });
    }
    if let Some((name, role)) = &s.speaker {
        return Some(if role.is_empty() {
            format!("<b>{}</b>", esc(name))
        } else {
            format!("<b>{}</b>  {}", esc(name), esc(role))
        });
    }
    item.map(esc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vote_banner_comes_first_then_the_speaker_then_the_item() {
        let g = Graphics::default();
        assert_eq!(g.markup(), None);
        let v0 = g.version();
        g.update(|s| s.item = Some("Punkt 7a: Uchwała <nr 12> & zmiany".into()));
        assert!(g.version() > v0);
        assert_eq!(
            g.markup().as_deref(),
            Some("Punkt 7a: Uchwała &lt;nr 12&gt; &amp; zmiany")
        );
        g.update(|s| s.speaker = Some(("Anna Kowalska".into(), "radna".into())));
        assert_eq!(g.markup().as_deref(), Some("<b>Anna Kowalska</b>  radna"));
        g.update(|s| s.vote = true);
        assert_eq!(
            g.markup().as_deref(),
            Some("<b>Głosowanie</b>  Punkt 7a: Uchwała &lt;nr 12&gt; &amp; zmiany")
        );
        g.update(|s| {
            s.vote = false;
            s.speaker = None;
            s.show_item = false;
        });
        assert_eq!(g.markup(), None);
    }
}
