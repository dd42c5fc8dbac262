//! The language of the pages a visitor sees: English or Japanese.

/// A language the visitor-facing pages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Ja,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    /// `ja`, `ja-JP`, `en-GB` … (case-insensitive); other languages are `None`.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "ja" => Some(Lang::Ja),
            _ => None,
        }
    }

    /// The form's `lang` field, else the browser's `Accept-Language`, else
    /// the config's `locale` when it is one of ours, else English.
    pub fn negotiate(form: Option<&str>, accept_language: Option<&str>, locale: &str) -> Lang {
        form.and_then(Lang::from_tag)
            .or_else(|| accept_language.and_then(preferred))
            .or_else(|| Lang::from_tag(locale))
            .unwrap_or_default()
    }

    /// Picks the English or the Japanese text.
    pub fn pick<T>(self, en: T, ja: T) -> T {
        match self {
            Lang::En => en,
            Lang::Ja => ja,
        }
    }
}

/// The most preferred of our languages in an `Accept-Language` header
/// (`ja,en-US;q=0.9`); ties go to the one listed first.
fn preferred(header: &str) -> Option<Lang> {
    let mut best: Option<(f32, Lang)> = None;
    for part in header.split(',').take(20) {
        let mut pieces = part.split(';');
        let Some(lang) = pieces.next().and_then(Lang::from_tag) else { continue };
        let q = pieces
            .find_map(|p| p.trim().strip_prefix("q="))
            .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())
            .unwrap_or(0.0);
        if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, lang));
        }
    }
    best.map(|(_, lang)| lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_wins_then_the_browser_then_the_config() {
        assert_eq!(Lang::negotiate(Some("ja"), Some("en"), "en"), Lang::Ja);
        assert_eq!(Lang::negotiate(Some("fr"), Some("ja-JP,en;q=0.8"), "en"), Lang::Ja);
        assert_eq!(Lang::negotiate(None, Some("fr, de"), "ja"), Lang::Ja);
        assert_eq!(Lang::negotiate(None, None, "auto"), Lang::En);
        assert_eq!(Lang::negotiate(None, None, "ja"), Lang::Ja);
    }

    #[test]
    fn accept_language_weights_are_honoured() {
        assert_eq!(preferred("en;q=0.5, ja;q=0.9"), Some(Lang::Ja));
        assert_eq!(preferred("ja;q=0, en-GB"), Some(Lang::En));
        assert_eq!(preferred("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5"), Some(Lang::En));
        assert_eq!(preferred("EN-us,JA"), Some(Lang::En));
        assert_eq!(preferred("zh"), None);
        assert_eq!(preferred(";;;,q=,ja;q=abc"), None);
    }
}
