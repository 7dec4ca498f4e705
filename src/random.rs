//! Seeds for the layers' random sources (dropout masks): independent streams from a seed and
//! a counter, so a pass's masks depend only on (seed, pass), never on what ran before.

/// SplitMix64's finaliser over `seed` and `counter`: a stream seed for `StdRng`.
pub(crate) fn mix(seed: u64, counter: u64) -> u64 {
    let mut z = seed ^ counter.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::mix;

    #[test]
    fn neighbouring_inputs_give_unrelated_streams() {
        let a = mix(1, 0);
        assert_ne!(a, mix(1, 1));
        assert_ne!(a, mix(2, 0));
        // About half the bits differ between neighbouring counters.
        let diff = (mix(7, 10) ^ mix(7, 11)).count_ones();
        assert!((16..=48).contains(&diff), "{diff} bits differ");
    }
}
