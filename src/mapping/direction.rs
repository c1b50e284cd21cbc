//! Which way a record travels: push (local → remote) or pull (remote → local).

use std::fmt;
use std::str::FromStr;

/// The way one record travels through a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Local record → remote system (FHIR resource, HL7 message, API payload).
    Push,
    /// Remote system → local record.
    Pull,
}

impl FromStr for Direction {
    type Err = String;

    /// `push` or `pull`, as scripts pass it (`map_fields(record, "patients", "pull")`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "push" => Ok(Direction::Push),
            "pull" => Ok(Direction::Pull),
            _ => Err(format!("direction `{s}` is not `push` or `pull`")),
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Push => "push",
            Direction::Pull => "pull",
        })
    }
}

/// The ways an entity or a field may travel, as written in a mapping file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Directions {
    /// Both push and pull (the default).
    #[default]
    Both,
    /// Only remote → local.
    Pull,
    /// Only local → remote.
    Push,
}

impl Directions {
    /// Whether `direction` is one of these.
    pub fn allows(self, direction: Direction) -> bool {
        matches!(
            (self, direction),
            (Directions::Both, _)
                | (Directions::Pull, Direction::Pull)
                | (Directions::Push, Direction::Push)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_allows() {
        assert_eq!("pull".parse::<Direction>().unwrap(), Direction::Pull);
        assert!("both".parse::<Direction>().is_err());
        assert!(Directions::Both.allows(Direction::Push));
        assert!(!Directions::Pull.allows(Direction::Push));
        assert_eq!(Direction::Push.to_string(), "push");
    }
}
