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

/// Alert state with hysteresis (the open / still-open / resolved cycle of DESIGN.md; cf.
/// rumqttc's explicit state machine).
///
/// It reads two scores per step: `new`, how improbable the step is against recent behaviour
/// (a new departure), and `from_normal`, how improbable against normal behaviour (a departure
/// that persists). An alert opens after `raise_after` consecutive steps with `new` above the
/// high level and closes after `resolve_after` consecutive steps with `from_normal` below the low
/// level, so a lasting fault keeps its alert open. Once a departure has stopped being new for
/// `settle_steps` steps it is how the machine now runs: from then on `new` decides the
/// resolution, so the alert can close (the alert history keeps it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertMachine {
    raise_after: u32,
    resolve_after: u32,
    settle_steps: u32,
    open: bool,
    run: u32,
    settled: u32,
}

impl AlertMachine {
    /// A closed alert.
    pub fn new(raise_after: u32, resolve_after: u32, settle_steps: u32) -> Self {
        AlertMachine { raise_after, resolve_after, settle_steps, open: false, run: 0, settled: 0 }
    }

    /// Whether an alert is open.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Closes the alert without waiting (operator feedback); true when one was open.
    pub fn close(&mut self) -> bool {
        let was_open = self.open;
        self.open = false;
        self.run = 0;
        self.settled = 0;
        was_open
    }

    /// Feeds one step's scores.
    pub fn update(&mut self, new: f32, from_normal: f32, high: f32, low: f32) -> Option<Transition> {
        if !self.open {
            self.run = if new > high { self.run + 1 } else { 0 };
            if self.run >= self.raise_after {
                self.open = true;
                self.run = 0;
                self.settled = 0;
                return Some(Transition::Raise);
            }
        } else {
            self.settled = if new < low { self.settled + 1 } else { 0 };
            let persisting = if self.settled >= self.settle_steps { new } else { from_normal };
            self.run = if persisting < low { self.run + 1 } else { 0 };
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
        let mut m = AlertMachine::new(3, 2, 1000);
        let (high, low) = (0.5, 0.3);
        assert_eq!(m.update(0.6, 0.6, high, low), None);
        assert_eq!(m.update(0.6, 0.6, high, low), None);
        assert_eq!(m.update(0.4, 0.4, high, low), None); // the run is broken
        assert_eq!(m.update(0.6, 0.6, high, low), None);
        assert_eq!(m.update(0.6, 0.6, high, low), None);
        assert_eq!(m.update(0.6, 0.6, high, low), Some(Transition::Raise));
        assert!(m.is_open());
        // Between low and high: still open.
        for _ in 0..10 {
            assert_eq!(m.update(0.4, 0.4, high, low), None);
        }
        assert_eq!(m.update(0.2, 0.2, high, low), None);
        assert_eq!(m.update(0.2, 0.2, high, low), Some(Transition::Resolve));
        assert!(!m.is_open());
    }

    #[test]
    fn a_lasting_fault_stays_open_until_it_has_been_the_usual_for_settle_steps() {
        let mut m = AlertMachine::new(1, 2, 5);
        let (high, low) = (0.5, 0.3);
        assert_eq!(m.update(0.9, 0.9, high, low), Some(Transition::Raise));
        // No longer new, still far from normal: open while the settle count runs; on the fifth
        // step it has settled and recent behaviour, which is quiet, decides.
        for _ in 0..5 {
            assert_eq!(m.update(0.1, 0.9, high, low), None);
        }
        assert_eq!(m.update(0.1, 0.9, high, low), Some(Transition::Resolve));
        // A fault that ends resolves without waiting to settle.
        assert_eq!(m.update(0.9, 0.9, high, low), Some(Transition::Raise));
        assert_eq!(m.update(0.1, 0.1, high, low), None);
        assert_eq!(m.update(0.1, 0.1, high, low), Some(Transition::Resolve));
    }
}
