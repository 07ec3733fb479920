//! The NAB v1.1 scorer, pure: labelled windows, scaled-sigmoid weights, the three profiles, null/perfect
//! normalisation and the corpus-wide threshold sweep (after numenta/NAB `sweeper.py`).

/// The weights of one NAB application profile (`A_TN` is 0 in every profile).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    /// Profile name as NAB spells it.
    pub name: &'static str,
    /// Reward of a detection at the very start of a window.
    pub tp: f64,
    /// Cost of a detection far from every window.
    pub fp: f64,
    /// Cost of a window with no detection.
    pub fn_: f64,
}

/// standard, reward_low_FP, reward_low_FN.
pub const PROFILES: [Profile; 3] = [
    Profile { name: "standard", tp: 1.0, fp: 0.11, fn_: 1.0 },
    Profile { name: "reward_low_FP", tp: 1.0, fp: 0.22, fn_: 1.0 },
    Profile { name: "reward_low_FN", tp: 1.0, fp: 0.11, fn_: 2.0 },
];

/// `2 / (1 + exp(5 y)) - 1`, exactly -1 from `y >= 3` (NAB's `scaledSigmoid`).
pub fn scaled_sigmoid(y: f64) -> f64 {
    if y >= 3.0 { -1.0 } else { 2.0 / (1.0 + (5.0 * y).exp()) - 1.0 }
}

/// Rows of the probationary period: 15% of the file, at most 750.
pub fn probationary_length(rows: usize) -> usize {
    (rows * 15 / 100).min(750)
}

/// One data file's ground truth: its length and its windows as inclusive row ranges, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledFile {
    /// Rows in the file.
    pub rows: usize,
    /// `(first, last)` row of each window, inclusive, sorted and disjoint.
    pub windows: Vec<(usize, usize)>,
}

/// What a detection on one row is worth, before the profile weights.
#[derive(Debug, Clone, Copy, PartialEq)]
enum RowWeight {
    /// Probationary row: never scored.
    Probation,
    /// Inside window `w`: a true positive worth `scaled * A_TP`.
    Window { w: usize, scaled: f64 },
    /// Outside every window: a false positive worth `sigmoid * A_FP` (negative).
    Outside { sigmoid: f64 },
}

impl LabelledFile {
    /// Builds a file's windows from row timestamps and `[start, end]` limits (same clock): a window is the rows
    /// with `start <= t <= end`; windows that hold no row are dropped.
    pub fn from_limits(times: &[i64], limits: &[(i64, i64)]) -> Self {
        let mut windows: Vec<(usize, usize)> = limits
            .iter()
            .filter_map(|&(a, b)| {
                let first = times.iter().position(|&t| t >= a)?;
                let last = times.iter().rposition(|&t| t <= b)?;
                (first <= last).then_some((first, last))
            })
            .collect();
        windows.sort_unstable();
        LabelledFile { rows: times.len(), windows }
    }

    /// The unweighted value of a detection on every row.
    fn weights(&self) -> Vec<RowWeight> {
        let probation = probationary_length(self.rows);
        let max_tp = scaled_sigmoid(-1.0);
        let mut out = Vec::with_capacity(self.rows);
        let mut next = 0;
        let mut prev: Option<(usize, usize)> = None;
        for i in 0..self.rows {
            while next < self.windows.len() && self.windows[next].1 < i {
                prev = Some(self.windows[next]);
                next += 1;
            }
            let weight = match self.windows.get(next) {
                _ if i < probation => RowWeight::Probation,
                Some(&(a, b)) if a <= i => {
                    let width = (b - a + 1) as f64;
                    let position = -((b - i + 1) as f64) / width;
                    RowWeight::Window { w: next, scaled: scaled_sigmoid(position) / max_tp }
                }
                _ => match prev {
                    None => RowWeight::Outside { sigmoid: -1.0 },
                    Some((a, b)) => {
                        let width = (b - a + 1) as f64;
                        // NAB divides by (width - 1); a one-row window counts as "far away" at once.
                        let position = if width > 1.0 { (i - b) as f64 / (width - 1.0) } else { 3.0 };
                        RowWeight::Outside { sigmoid: scaled_sigmoid(position) }
                    }
                },
            };
            out.push(weight);
        }
        out
    }

    /// Windows with at least one scored (non-probationary) row: the ones that count.
    pub fn scored_windows(&self) -> usize {
        let probation = probationary_length(self.rows);
        self.windows.iter().filter(|w| w.1 >= probation).count()
    }
}

/// The raw NAB score and counts of one set of detections.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RawScore {
    /// Sum of the weighted TP, FP and FN terms.
    pub score: f64,
    /// Windows detected.
    pub tp_windows: usize,
    /// Windows missed.
    pub fn_windows: usize,
    /// Detections outside every window (scored rows only).
    pub fp_rows: usize,
}

impl std::ops::AddAssign for RawScore {
    fn add_assign(&mut self, o: RawScore) {
        self.score += o.score;
        self.tp_windows += o.tp_windows;
        self.fn_windows += o.fn_windows;
        self.fp_rows += o.fp_rows;
    }
}

/// Scores one file's detections (`detections[i]` true when the detector fired on row `i`): the earliest
/// detection in each window earns its scaled TP weight, a missed window costs `A_FN`, every detection
/// outside a window costs its FP weight; probationary rows are ignored.
pub fn score_detections(file: &LabelledFile, detections: &[bool], profile: &Profile) -> RawScore {
    let mut best: Vec<Option<f64>> = vec![None; file.windows.len()];
    let mut counted = vec![false; file.windows.len()];
    let mut raw = RawScore::default();
    for (i, weight) in file.weights().into_iter().enumerate() {
        match weight {
            RowWeight::Probation => {}
            RowWeight::Window { w, scaled } => {
                counted[w] = true;
                if detections.get(i).copied().unwrap_or(false) && best[w].is_none() {
                    best[w] = Some(scaled);
                }
            }
            RowWeight::Outside { sigmoid } => {
                if detections.get(i).copied().unwrap_or(false) {
                    raw.score += sigmoid * profile.fp;
                    raw.fp_rows += 1;
                }
            }
        }
    }
    for (b, c) in best.iter().zip(&counted) {
        match (b, c) {
            (Some(s), _) => {
                raw.score += s * profile.tp;
                raw.tp_windows += 1;
            }
            (None, true) => {
                raw.score -= profile.fn_;
                raw.fn_windows += 1;
            }
            (None, false) => {}
        }
    }
    raw
}

/// The score of the detector that never fires: `-A_FN` per scored window.
pub fn null_score(files: &[LabelledFile], profile: &Profile) -> f64 {
    -profile.fn_ * files.iter().map(LabelledFile::scored_windows).sum::<usize>() as f64
}

/// The score of the perfect detector: `A_TP` per window (NAB counts every labelled window).
pub fn perfect_score(files: &[LabelledFile], profile: &Profile) -> f64 {
    profile.tp * files.iter().map(|f| f.windows.len()).sum::<usize>() as f64
}

/// `100 * (raw - null) / (perfect - null)`.
pub fn normalise(raw: f64, null: f64, perfect: f64) -> f64 {
    if perfect == null { 0.0 } else { 100.0 * (raw - null) / (perfect - null) }
}

/// The best corpus-wide threshold for a profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sweep {
    /// A row is a detection when its anomaly score is `>= threshold` (above 1: never).
    pub threshold: f64,
    /// Raw corpus score at that threshold.
    pub raw: f64,
    /// Normalised corpus score at that threshold.
    pub normalised: f64,
}

/// Sweeps the detection threshold over every distinct anomaly score of the corpus (`files[k]` scored by
/// `scores[k]`, one per row) and returns the threshold with the highest total score, as NAB's scoreboard does.
pub fn sweep(files: &[LabelledFile], scores: &[Vec<f64>], profile: &Profile) -> Sweep {
    // (score, file, row) of every scored row, highest first; lowering the threshold past a row makes it a
    // detection, which changes the total by its FP weight or by the improvement of its window's TP.
    let mut rows: Vec<(f64, usize, usize, RowWeight)> = Vec::new();
    let mut window_base = Vec::with_capacity(files.len());
    let mut total_windows = 0;
    for (k, (file, s)) in files.iter().zip(scores).enumerate() {
        window_base.push(total_windows);
        total_windows += file.windows.len();
        for (i, w) in file.weights().into_iter().enumerate() {
            if w != RowWeight::Probation {
                rows.push((s.get(i).copied().unwrap_or(0.0), k, i, w));
            }
        }
    }
    rows.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let null = null_score(files, profile);
    let perfect = perfect_score(files, profile);
    // Best TP value per window so far (None = still a miss).
    let mut best: Vec<Option<f64>> = vec![None; total_windows];
    let mut total = null;
    let mut result = Sweep { threshold: 1.1, raw: total, normalised: normalise(total, null, perfect) };
    let mut idx = 0;
    while idx < rows.len() {
        let threshold = rows[idx].0;
        while idx < rows.len() && rows[idx].0 == threshold {
            let (_, k, _, w) = rows[idx];
            match w {
                RowWeight::Outside { sigmoid } => total += sigmoid * profile.fp,
                RowWeight::Window { w, scaled } => {
                    let slot = &mut best[window_base[k] + w];
                    let old = slot.map_or(-profile.fn_, |s| s * profile.tp);
                    let new = slot.map_or(scaled, |s: f64| s.max(scaled));
                    *slot = Some(new);
                    total += new * profile.tp - old;
                }
                RowWeight::Probation => {}
            }
            idx += 1;
        }
        if total > result.raw {
            result = Sweep { threshold, raw: total, normalised: normalise(total, null, perfect) };
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const STD: Profile = PROFILES[0];

    /// 100 rows (probation 15), one window rows 40..=59 (width 20).
    fn file() -> LabelledFile {
        LabelledFile { rows: 100, windows: vec![(40, 59)] }
    }

    fn detect(rows: &[usize]) -> Vec<bool> {
        let mut d = vec![false; 100];
        rows.iter().for_each(|&r| d[r] = true);
        d
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn sigmoid_matches_nab_reference_points() {
        close(scaled_sigmoid(-1.0), 0.986_614_298_151_430_3);
        close(scaled_sigmoid(0.0), 0.0);
        close(scaled_sigmoid(-0.5), 0.848_283_639_957_513_1);
        close(scaled_sigmoid(1.0), -0.986_614_298_151_430_3);
        assert_eq!(scaled_sigmoid(3.0), -1.0);
        assert_eq!(probationary_length(100), 15);
        assert_eq!(probationary_length(22_695), 750);
    }

    #[test]
    fn a_detection_at_window_start_earns_a_tp() {
        let r = score_detections(&file(), &detect(&[40]), &STD);
        close(r.score, 1.0);
        assert_eq!((r.tp_windows, r.fn_windows, r.fp_rows), (1, 0, 0));
        // At the last row: position -1/20.
        let r = score_detections(&file(), &detect(&[59]), &STD);
        close(r.score, scaled_sigmoid(-1.0 / 20.0) / scaled_sigmoid(-1.0));
    }

    #[test]
    fn only_the_earliest_detection_in_a_window_counts() {
        let r = score_detections(&file(), &detect(&[50, 45, 58]), &STD);
        close(r.score, scaled_sigmoid(-15.0 / 20.0) / scaled_sigmoid(-1.0));
        assert_eq!(r.tp_windows, 1);
    }

    #[test]
    fn a_missed_window_costs_a_fn_in_every_profile() {
        for p in PROFILES {
            close(score_detections(&file(), &detect(&[]), &p).score, -p.fn_);
        }
    }

    #[test]
    fn false_positives_before_and_after_windows() {
        // Before the first window: the full A_FP, on top of the missed window.
        close(score_detections(&file(), &detect(&[20]), &STD).score, -0.11 - 1.0);
        // Probationary rows are never scored.
        close(score_detections(&file(), &detect(&[3]), &STD).score, -1.0);
        // After the window: distance past its end in (width - 1) rows.
        let r = score_detections(&file(), &detect(&[40, 69]), &STD);
        close(r.score, 1.0 + 0.11 * scaled_sigmoid(10.0 / 19.0));
        // 40 rows past it: 40 / 19 window lengths.
        close(score_detections(&file(), &detect(&[40, 99]), &STD).score, 1.0 + 0.11 * scaled_sigmoid(40.0 / 19.0));
        // Three window lengths past it and beyond: the full cost.
        let far = LabelledFile { rows: 200, windows: vec![(40, 59)] };
        let mut d = vec![false; 200];
        d[40] = true;
        d[59 + 57] = true;
        close(score_detections(&far, &d, &STD).score, 1.0 - 0.11);
    }

    #[test]
    fn normalisation_gives_100_for_perfect_and_0_for_null() {
        let files = [file(), LabelledFile { rows: 100, windows: vec![(20, 24), (70, 89)] }];
        for p in PROFILES {
            let (null, perfect) = (null_score(&files, &p), perfect_score(&files, &p));
            close(null, -3.0 * p.fn_);
            let starts = [detect(&[40]), detect(&[20, 70])];
            let raw: f64 = files.iter().zip(&starts).map(|(f, d)| score_detections(f, d, &p).score).sum();
            close(normalise(raw, null, perfect), 100.0);
            let none = vec![false; 100];
            let raw: f64 = files.iter().map(|f| score_detections(f, &none, &p).score).sum();
            close(normalise(raw, null, perfect), 0.0);
        }
    }

    #[test]
    fn windows_come_from_timestamps() {
        let times: Vec<i64> = (0..10).map(|i| i * 10).collect();
        let f = LabelledFile::from_limits(&times, &[(25, 60), (200, 300)]);
        assert_eq!(f.windows, vec![(3, 6)]);
    }

    #[test]
    fn the_sweep_finds_the_threshold_that_isolates_the_window_start() {
        let files = [file()];
        let mut s = vec![0.1; 100];
        s[40] = 0.9; // the window start
        s[80] = 0.5; // a false positive far past the window
        s[5] = 1.0; // probation: ignored
        let best = sweep(&files, &[s.clone()], &STD);
        close(best.threshold, 0.9);
        close(best.raw, 1.0);
        close(best.normalised, 100.0);
        // The sweep agrees with scoring the thresholded detections directly.
        for t in [0.1, 0.5, 0.9] {
            let d: Vec<bool> = s.iter().map(|&x| x >= t).collect();
            let direct = score_detections(&files[0], &d, &STD).score;
            let low = PROFILES[2];
            let _ = score_detections(&files[0], &d, &low);
            assert!(direct <= best.raw + 1e-12);
        }
        // A detector that never rises above its floor keeps the null score.
        let flat = sweep(&files, &[vec![0.0; 100]], &STD);
        assert!(flat.raw >= -1.0 - 1e-12);
    }
}
