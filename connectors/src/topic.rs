//! Topic patterns such as `plant/{asset}/{channel}`: the MQTT subscription filter and the asset/channel they name.

use snn_engine::{AssetId, ChannelId};
use thiserror::Error;

/// Why a topic pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TopicError {
    /// The pattern was empty.
    #[error("topic pattern is empty")]
    Empty,
    /// `{asset}` or `{channel}` is missing.
    #[error("topic pattern `{pattern}` has no `{placeholder}` level")]
    MissingPlaceholder { pattern: String, placeholder: &'static str },
    /// `{asset}` or `{channel}` appears more than once.
    #[error("topic pattern `{pattern}` has `{placeholder}` more than once")]
    DuplicatePlaceholder { pattern: String, placeholder: &'static str },
    /// A level mixes a placeholder with text, uses `#`, an unknown `{name}`, or is empty.
    #[error("topic pattern `{pattern}` has an invalid level `{level}`: {why}")]
    InvalidLevel { pattern: String, level: String, why: &'static str },
    /// A topic entry's payload format or field mapping is invalid.
    #[error("topic `{pattern}` has an invalid payload mapping: {why}")]
    InvalidMapping { pattern: String, why: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Level {
    Literal(String),
    /// `+` in the pattern: matches any one level, captures nothing.
    Any,
    Asset,
    Channel,
}

/// A topic pattern such as `plant/{asset}/{channel}` or `site1/{asset}/sensors/{channel}`;
/// `{asset}` and `{channel}` each match one level. A literal `+` level matches any one level
/// without capturing it. `#` is not supported: every level must be accounted for so that the
/// asset and channel positions are unambiguous.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPattern {
    pattern: String,
    levels: Vec<Level>,
}

impl TopicPattern {
    /// Parses a pattern; exactly one `{asset}` and one `{channel}` level are required.
    pub fn parse(pattern: &str) -> Result<Self, TopicError> {
        if pattern.is_empty() {
            return Err(TopicError::Empty);
        }
        let invalid =
            |level: &str, why| TopicError::InvalidLevel { pattern: pattern.to_owned(), level: level.to_owned(), why };
        let mut levels = Vec::new();
        for level in pattern.split('/') {
            let parsed = match level {
                "{asset}" => Level::Asset,
                "{channel}" => Level::Channel,
                "+" => Level::Any,
                "" => return Err(invalid(level, "empty levels are not allowed")),
                "#" => return Err(invalid(level, "`#` is not supported, name every level")),
                _ if level.contains(['{', '}']) => {
                    return Err(invalid(level, "placeholders are `{asset}` or `{channel}` and fill a whole level"));
                }
                _ if level.contains(['+', '#']) => {
                    return Err(invalid(level, "wildcards must fill a whole level"));
                }
                _ if level.contains('\0') => return Err(invalid(level, "NUL is not allowed in topics")),
                _ => Level::Literal(level.to_owned()),
            };
            levels.push(parsed);
        }
        for (placeholder, want) in [("{asset}", Level::Asset), ("{channel}", Level::Channel)] {
            match levels.iter().filter(|l| **l == want).count() {
                0 => return Err(TopicError::MissingPlaceholder { pattern: pattern.to_owned(), placeholder }),
                1 => {}
                _ => return Err(TopicError::DuplicatePlaceholder { pattern: pattern.to_owned(), placeholder }),
            }
        }
        Ok(TopicPattern { pattern: pattern.to_owned(), levels })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// The MQTT subscription filter: every placeholder becomes `+` (`plant/+/+`).
    pub fn filter(&self) -> String {
        self.levels
            .iter()
            .map(|l| match l {
                Level::Literal(s) => s.as_str(),
                Level::Any | Level::Asset | Level::Channel => "+",
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The asset and channel named by `topic`, or `None` when it does not match (wrong depth,
    /// different literal, or an empty asset/channel level).
    pub fn extract(&self, topic: &str) -> Option<(AssetId, ChannelId)> {
        let mut asset = None;
        let mut channel = None;
        let mut parts = topic.split('/');
        for level in &self.levels {
            let part = parts.next()?;
            match level {
                Level::Literal(s) if s != part => return None,
                Level::Literal(_) | Level::Any => {}
                Level::Asset => asset = Some(part),
                Level::Channel => channel = Some(part),
            }
        }
        if parts.next().is_some() {
            return None;
        }
        let (asset, channel) = (asset?, channel?);
        if asset.is_empty() || channel.is_empty() {
            return None;
        }
        Some((AssetId::from(asset), ChannelId::from(channel)))
    }

    /// The topic a publisher should use for `asset`/`channel` (a `+` level is filled with `_`).
    pub fn topic_for(&self, asset: &AssetId, channel: &ChannelId) -> String {
        self.levels
            .iter()
            .map(|l| match l {
                Level::Literal(s) => s.as_str(),
                Level::Any => "_",
                Level::Asset => asset.as_str(),
                Level::Channel => channel.as_str(),
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(a: &str, c: &str) -> Option<(AssetId, ChannelId)> {
        Some((AssetId::from(a), ChannelId::from(c)))
    }

    #[test]
    fn default_pattern_filters_and_extracts() {
        let p = TopicPattern::parse("plant/{asset}/{channel}").unwrap();
        assert_eq!(p.filter(), "plant/+/+");
        assert_eq!(p.extract("plant/pump-1/vibration"), ids("pump-1", "vibration"));
        assert_eq!(p.extract("plant/pump-1"), None);
        assert_eq!(p.extract("plant/pump-1/vibration/x"), None);
        assert_eq!(p.extract("other/pump-1/vibration"), None);
        assert_eq!(p.extract("plant//vibration"), None);
        assert_eq!(p.topic_for(&"p".into(), &"c".into()), "plant/p/c");
    }

    #[test]
    fn placeholders_anywhere_and_in_any_order() {
        let p = TopicPattern::parse("site1/{asset}/sensors/{channel}").unwrap();
        assert_eq!(p.filter(), "site1/+/sensors/+");
        assert_eq!(p.extract("site1/m7/sensors/temp"), ids("m7", "temp"));
        assert_eq!(p.extract("site1/m7/actuators/temp"), None);
        let q = TopicPattern::parse("{channel}/+/{asset}").unwrap();
        assert_eq!(q.filter(), "+/+/+");
        assert_eq!(q.extract("temp/zone9/m7"), ids("m7", "temp"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert_eq!(TopicPattern::parse(""), Err(TopicError::Empty));
        let err = |p: &str| TopicPattern::parse(p).unwrap_err();
        assert!(matches!(err("plant/{asset}"), TopicError::MissingPlaceholder { placeholder: "{channel}", .. }));
        assert!(matches!(err("plant/{channel}"), TopicError::MissingPlaceholder { placeholder: "{asset}", .. }));
        assert!(matches!(
            err("{asset}/{asset}/{channel}"),
            TopicError::DuplicatePlaceholder { placeholder: "{asset}", .. }
        ));
        for bad in [
            "plant/#/{asset}/{channel}",
            "plant/x{asset}/{channel}",
            "plant/{asset}/{chan}",
            "plant//{asset}/{channel}",
            "pl+nt/{asset}/{channel}",
            "{asset}/{channel}/",
        ] {
            assert!(matches!(err(bad), TopicError::InvalidLevel { .. }), "{bad}");
        }
        assert_eq!(err("plant/{asset}").to_string(), "topic pattern `plant/{asset}` has no `{channel}` level");
    }
}
