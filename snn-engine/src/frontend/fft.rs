//! A small in-place radix-2 FFT (Cooley-Tukey, decimation in time) for the window front-end.

/// A complex number as `(re, im)`; the FFT is small enough not to need a complex type.
pub type Complex = (f64, f64);

/// In-place forward (`inverse = false`) or inverse FFT of `buf`, whose length must be a power of
/// two. The inverse is scaled by `1/n`, so `ifft(fft(x)) == x` up to rounding.
///
/// Iterative Cooley-Tukey with bit-reversal permutation (Cooley & Tukey 1965; the loop structure
/// follows Press et al., *Numerical Recipes*, 3rd ed., section 12.2). Twiddles are computed with
/// `sin`/`cos` per stage and then rotated, which is accurate to ~1e-12 for n <= 65536.
pub fn fft_in_place(buf: &mut [Complex], inverse: bool) {
    let n = buf.len();
    assert!(n.is_power_of_two(), "fft length {n} is not a power of two");
    if n < 2 {
        return;
    }
    // Bit-reversal permutation.
    let mut j = 0usize;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            buf.swap(i, j);
        }
    }
    let sign = if inverse { 1.0 } else { -1.0 };
    let mut len = 2;
    while len <= n {
        let angle = sign * std::f64::consts::TAU / len as f64;
        let (w_im, w_re) = angle.sin_cos();
        for start in (0..n).step_by(len) {
            let (mut cur_re, mut cur_im) = (1.0f64, 0.0f64);
            for k in 0..len / 2 {
                let (a_re, a_im) = buf[start + k];
                let (b_re, b_im) = buf[start + k + len / 2];
                let t_re = b_re * cur_re - b_im * cur_im;
                let t_im = b_re * cur_im + b_im * cur_re;
                buf[start + k] = (a_re + t_re, a_im + t_im);
                buf[start + k + len / 2] = (a_re - t_re, a_im - t_im);
                let next_re = cur_re * w_re - cur_im * w_im;
                cur_im = cur_re * w_im + cur_im * w_re;
                cur_re = next_re;
            }
        }
        len <<= 1;
    }
    if inverse {
        let scale = 1.0 / n as f64;
        for c in buf.iter_mut() {
            c.0 *= scale;
            c.1 *= scale;
        }
    }
}

/// The Hann window of length `n` (periodic form, as used for spectral analysis; Harris 1978).
pub fn hann(n: usize) -> Vec<f64> {
    (0..n).map(|i| 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n as f64).cos()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_dft(x: &[Complex]) -> Vec<Complex> {
        let n = x.len();
        (0..n)
            .map(|k| {
                x.iter().enumerate().fold((0.0, 0.0), |acc, (t, &(re, im))| {
                    let a = -std::f64::consts::TAU * (k * t) as f64 / n as f64;
                    let (s, c) = a.sin_cos();
                    (acc.0 + re * c - im * s, acc.1 + re * s + im * c)
                })
            })
            .collect()
    }

    #[test]
    fn matches_naive_dft_and_round_trips() {
        let x: Vec<Complex> = (0..64).map(|i| (((i * 7) % 11) as f64 - 5.0, ((i * 3) % 5) as f64)).collect();
        let mut y = x.clone();
        fft_in_place(&mut y, false);
        for (a, b) in y.iter().zip(naive_dft(&x)) {
            assert!((a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9);
        }
        fft_in_place(&mut y, true);
        for (a, b) in y.iter().zip(&x) {
            assert!((a.0 - b.0).abs() < 1e-12 && (a.1 - b.1).abs() < 1e-12);
        }
    }

    #[test]
    fn sine_lands_in_its_bin() {
        let n = 1024;
        let mut x: Vec<Complex> =
            (0..n).map(|i| ((std::f64::consts::TAU * 37.0 * i as f64 / n as f64).sin(), 0.0)).collect();
        fft_in_place(&mut x, false);
        let peak = (0..n / 2)
            .max_by(|&a, &b| {
                let pa = x[a].0.hypot(x[a].1);
                let pb = x[b].0.hypot(x[b].1);
                pa.total_cmp(&pb)
            })
            .unwrap();
        assert_eq!(peak, 37);
        assert!((x[37].0.hypot(x[37].1) - n as f64 / 2.0).abs() < 1e-6);
    }
}
