// A small seedable random number generator: per-document decisions (FIM, boundary randomization,
// shuffling, splits), bootstrap resampling, and the trainer's initialization and data order. The one
// generator of the project.
import Foundation

/// SplitMix64 (Steele et al. 2014): tiny, seedable, and good enough for sampling decisions.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The whole state: one UInt64.
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A uniform double in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
    /// A standard normal sample (Box–Muller; one of the pair is discarded for simplicity).
    public mutating func normal() -> Double {
        let u1 = (Double(next() >> 11) + 1) / 9_007_199_254_740_993.0
        let u2 = Double(next() >> 11) / 9_007_199_254_740_992.0
        return (-2 * Foundation.log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

