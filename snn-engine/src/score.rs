//! The alert state machine: from a per-step anomaly score to raised and resolved alerts.

use serde::{Deserialize, Serialize};

/// A change of the alert state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The alert opened.
    Raise,
    /// The alert closed.
    Resolve,
}

/// Alert state with hysteresis: opens after `raise_after` consecutive steps above the high
/// threshold and closes after `resolve_after` consecutive steps below the low threshold
/// (the open / still-open / resolved cycle of DESIGN.md; cf. rumqttc's explicit state machine).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertMachine {
    raise_after: u32,
    resolve_after: u32,
    open: bool,
    run: u32,
}

impl AlertMachine {
    /// A closed alert.
    pub fn new(raise_after: u32, resolve_after: u32) -> Self {
        AlertMachine { raise_after, resolve_after, open: false, run: 0 }
    }

    /// Whether an alert is open.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Feeds one step's anomaly score.
    pub fn update(&mut self, score: f32, high: f32, low: f32) -> Option<Transition> {
        if !self.open {
            self.run = if score > high { self.run + 1 } else { 0 };
            if self.run >= self.raise_after {
                self.open = true;
                self.run = 0;
                return Some(Transition::Raise);
            }
        } else {
            self.run = if score < low { self.run + 1 } else { 0 };
            if self.run >= self.resolve_after {
                self.open = false;
                self.run = 0;
                return Some(Transition::Resolve);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_need_consecutive_steps_and_have_hysteresis() {
        let mut m = AlertMachine::new(3, 2);
        let (high, low) = (0.5, 0.3);
        assert_eq!(m.update(0.6, high, low), None);
        assert_eq!(m.update(0.6, high, low), None);
        assert_eq!(m.update(0.4, high, low), None); // the run is broken
        assert_eq!(m.update(0.6, high, low), None);
        assert_eq!(m.update(0.6, high, low), None);
        assert_eq!(m.update(0.6, high, low), Some(Transition::Raise));
        assert!(m.is_open());
        // Between low and high: still open.
        for _ in 0..10 {
            assert_eq!(m.update(0.4, high, low), None);
        }
        assert_eq!(m.update(0.2, high, low), None);
        assert_eq!(m.update(0.2, high, low), Some(Transition::Resolve));
        assert!(!m.is_open());
    }
}
