//! Condition limits: fixed upper limits on the features that rise with wear (every feature of a
//! vibration or acoustic window; a motor current's RMS, sidebands and harmonics), set at
//! commissioning and kept, as vibration-severity practice does (ISO 20816 zones, the plain
//! "mean + 3 sigma of the first weeks" alarm of condition monitoring).
//!
//! The learned model judges how improbable the present is against the recent past, so a bearing
//! that wears over hours or days becomes the usual before it is ever improbable. Energy,
//! impulsiveness and envelope features of a healthy machine at a steady duty do not drift
//! upward, nor do a healthy motor's current sidebands and harmonics, so a fixed limit learned
//! while the machine was known to be healthy catches that slow growth. Only the upper side
//! counts: a machine getting quieter (a bearing running in, a lighter load) is not failing.

use serde::{Deserialize, Serialize};

use crate::normalise::Normaliser;

/// A feature this many times as far above its mean as its limit is breached on its first frame.
const DANGER_FACTOR: f64 = 2.0;

/// A feature above its limit: which one and by how much.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimitExceeded {
    /// Index of the feature in the model's feature vector.
    pub feature: usize,
    /// Its commissioning (warm-up) mean.
    pub mean: f64,
    /// How far above that mean, in commissioning standard deviations.
    pub sigmas: f64,
}

/// Upper limits `mean + sigmas * std` on a set of features, learned over the frames of warm-up it
/// is shown ([`ConditionLimits::observe`]) and fixed at its end ([`ConditionLimits::fix`]). A breach
/// begins after `hold_frames` consecutive frames with some feature above its limit (on the first
/// frame with one [`DANGER_FACTOR`] times as far above its mean as the limit) and ends after
/// `clear_frames` consecutive frames with every feature under it: a long off-delay, so a feature
/// hovering at its limit is one breach, not a flurry of them. (A deadband below the limit would
/// not clear a machine with a dozen limited features: one of them is usually above 2 sigma.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionLimits {
    /// The features that have limits.
    features: Vec<usize>,
    sigmas: f64,
    hold_frames: u32,
    clear_frames: u32,
    /// Statistics of the frames observed so far, every feature (the limited ones are read).
    learning: Normaliser,
    /// Per limited feature, its commissioning mean and standard deviation (empty until set).
    reference: Vec<(f64, f64)>,
    breached: bool,
    /// Consecutive frames that point the other way (above a limit while inside, all under them
    /// while breached).
    run: u32,
}

impl ConditionLimits {
    /// Limits on `features` at `sigmas` standard deviations (0 turns them off), breached after
    /// `hold_frames` frames above and cleared after `clear_frames` frames back inside; `learning`
    /// (empty, sized for every feature) gathers the statistics, with its standard-deviation floor.
    pub fn new(features: Vec<usize>, sigmas: f64, hold_frames: u32, clear_frames: u32, learning: Normaliser) -> Self {
        ConditionLimits {
            features,
            sigmas,
            hold_frames,
            clear_frames,
            learning,
            reference: Vec::new(),
            breached: false,
            run: 0,
        }
    }

    /// Whether the limits are set (warm-up over) and on.
    pub fn active(&self) -> bool {
        self.sigmas > 0.0 && !self.reference.is_empty()
    }

    /// Learns from one frame of normal running.
    pub fn observe(&mut self, features: &[f64]) {
        self.learning.observe(features);
    }

    /// Fixes the limits from the frames observed (none observed: the limits stay off).
    pub fn fix(&mut self) {
        if self.learning.count() > 0 {
            let learning = self.learning.clone();
            self.set(|f| (learning.mean(f), learning.std(f)));
        }
    }

    /// Fixes the limits from each limited feature's `(mean, std)` as `stats(feature)` gives it.
    pub fn set(&mut self, stats: impl Fn(usize) -> (f64, f64)) {
        self.reference = self.features.iter().map(|&f| stats(f)).collect();
        (self.breached, self.run) = (false, 0);
    }

    /// Operator feedback, "the machine runs like this now and is fine": ends any breach and
    /// raises every limit that `features` come near, to cover them with 10% headroom. Fed every
    /// frame the feedback teaches, so the limits take in the new condition's spread.
    pub fn accept(&mut self, features: &[f64]) {
        for (&f, (mean, std)) in self.features.iter().zip(&mut self.reference) {
            let needed = 1.1 * (features[f] - *mean) / self.sigmas;
            *std = std.max(needed);
        }
        (self.breached, self.run) = (false, 0);
    }

    /// Checks one frame. While the limits are breached, returns the feature furthest above its
    /// commissioning mean, except on frames with every feature under its limit (the breach is
    /// clearing; whatever else judges the frame decides).
    pub fn check(&mut self, features: &[f64]) -> Option<LimitExceeded> {
        if !self.active() {
            return None;
        }
        let worst = self
            .features
            .iter()
            .zip(&self.reference)
            .map(|(&f, &(mean, std))| LimitExceeded { feature: f, mean, sigmas: (features[f] - mean) / std })
            .max_by(|a, b| a.sigmas.total_cmp(&b.sigmas))?;
        let above = worst.sigmas > self.sigmas;
        // Twice as far above the mean as the limit is no healthy spread: like a danger level, it
        // trips at once, without the hold that keeps a feature brushing its limit from alarming.
        let danger = worst.sigmas > DANGER_FACTOR * self.sigmas;
        self.run = if above != self.breached { self.run + 1 } else { 0 };
        let needed = if self.breached {
            self.clear_frames
        } else if danger {
            1
        } else {
            self.hold_frames
        };
        if self.run >= needed {
            (self.breached, self.run) = (!self.breached, 0);
        }
        (self.breached && above).then_some(worst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(dims: usize) -> Normaliser {
        Normaliser::new(dims, 6.0, 0.0, 1e-9)
    }

    #[test]
    fn limits_are_learned_from_the_frames_observed_only() {
        let mut l = ConditionLimits::new(vec![0], 3.0, 1, 1, stats(1));
        l.fix();
        assert!(!l.active(), "nothing observed, no limits");
        for x in [9.0, 11.0, 9.0, 11.0] {
            l.observe(&[x]);
        }
        l.fix(); // mean 10, std 1: the limit is 13
        assert_eq!(l.check(&[12.9]), None);
        assert_eq!(l.check(&[13.5]).map(|e| e.feature), Some(0));
    }

    fn limits() -> ConditionLimits {
        // Features 1 and 2 are limited at mean + 3 std, held 3 frames, cleared after 3; feature 0 is not.
        let mut l = ConditionLimits::new(vec![1, 2], 3.0, 3, 3, stats(3));
        l.set(|f| if f == 1 { (10.0, 1.0) } else { (0.0, 2.0) });
        l
    }

    #[test]
    fn nothing_is_exceeded_before_the_limits_are_set_or_when_off() {
        let mut unset = ConditionLimits::new(vec![0], 3.0, 1, 1, stats(1));
        assert_eq!(unset.check(&[1e9]), None);
        let mut off = ConditionLimits::new(vec![0], 0.0, 1, 1, stats(1));
        off.set(|_| (0.0, 1.0));
        assert!(!off.active());
        assert_eq!(off.check(&[1e9]), None);
    }

    #[test]
    fn exceeded_after_the_hold_and_names_the_worst_feature() {
        let mut l = limits();
        let high = [1e9, 14.0, 7.0]; // 4 sigma on feature 1, 3.5 on feature 2, feature 0 unlimited
        assert_eq!(l.check(&high), None);
        assert_eq!(l.check(&high), None);
        let e = l.check(&high).expect("third frame above");
        assert_eq!(e.feature, 1);
        assert!((e.sigmas - 4.0).abs() < 1e-12);
        assert!(l.check(&high).is_some(), "stays exceeded while above");
    }

    #[test]
    fn the_hold_restarts_below_and_the_lower_side_never_counts() {
        let mut l = limits();
        let high = [0.0, 14.0, 0.0];
        l.check(&high);
        l.check(&high);
        assert_eq!(l.check(&[0.0, 12.9, 0.0]), None, "within 3 sigma breaks the run");
        assert_eq!(l.check(&high), None);
        let low = [0.0, -100.0, -100.0];
        assert!((0..10).all(|_| l.check(&low).is_none()));
    }

    #[test]
    fn twice_as_far_above_as_the_limit_breaches_on_the_first_frame() {
        let mut l = limits();
        assert_eq!(l.check(&[0.0, 15.5, 0.0]), None, "5.5 sigma: above the limit, under the danger level, held");
        let mut l = limits();
        let e = l.check(&[0.0, 16.5, 0.0]).expect("6.5 sigma: past twice the limit's 3 sigma");
        assert_eq!(e.feature, 1);
    }

    #[test]
    fn a_breach_ends_only_after_the_clear_frames_back_inside() {
        let mut l = limits();
        let high = [0.0, 14.0, 0.0];
        (0..3).for_each(|_| _ = l.check(&high));
        let back = [0.0, 12.5, 0.0]; // 2.5 sigma
        assert_eq!(l.check(&back), None, "back inside, clearing");
        assert_eq!(l.check(&back), None);
        assert!(l.check(&high).is_some(), "not cleared yet: up again, still the same breach, no hold");
        (0..3).for_each(|_| _ = l.check(&back));
        assert_eq!(l.check(&high), None, "cleared after three frames back inside: a new breach needs the hold");
    }

    #[test]
    fn feedback_ends_the_breach_and_widens_limits_to_cover_the_present() {
        let mut l = limits();
        let high = [0.0, 16.0, 0.0];
        (0..3).for_each(|_| _ = l.check(&high));
        assert!(l.check(&high).is_some());
        l.accept(&high);
        let now = [0.0, 16.0, 0.0];
        assert!((0..5).all(|_| l.check(&now).is_none()));
        let higher = [0.0, 20.0, 0.0]; // limit 10 + 3 * 2.2 = 16.6 after the widening
        l.check(&higher);
        l.check(&higher);
        assert!(l.check(&higher).is_some());
    }
}
