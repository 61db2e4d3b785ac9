// Fill-in-the-middle at document level, before packing (Bavarian et al. 2022 §3; DeepSeek-V3 §4.1).
// Policy: a document is chosen with probability `rate`; it is cut at two positions drawn uniformly
// over its Unicode scalars (0...n, sorted; empty parts allowed, as the BigCode Megatron fork does);
// the three parts are encoded separately and laid out as
//   PSM: <|fim_begin|> prefix <|fim_hole|> suffix <|fim_end|> middle
//   SPM: <|fim_begin|> <|fim_hole|> suffix <|fim_end|> prefix middle   (Bavarian et al. App. D, variant 2)
// with SPM chosen with probability `spmRate` among FIM documents; the caller appends end-of-text.
// Every draw comes from a SplitMix64 stream seeded by (seed, document key), so which documents are
// chosen and where they are cut depends only on the seed and the document's position, never on
// threads or shards.

import CorpusIO

/// PSM or SPM.
public enum FIMOrder: String, Sendable {
    case psm, spm
}

/// The ids of the three FIM sentinel tokens.
public struct FIMTokens: Sendable, Equatable {
    public var begin: Int32, hole: Int32, end: Int32
    public init(begin: Int32, hole: Int32, end: Int32) { self.begin = begin; self.hole = hole; self.end = end }
}

/// How often and how documents are transformed.
public struct FIMConfig: Sendable {
    /// Share of documents transformed (DeepSeek-V3: 0.1).
    public var rate: Double = 0
    /// Share of transformed documents laid out SPM instead of PSM.
    public var spmRate: Double = 0
    public var seed: UInt64 = 0
    public init(rate: Double = 0, spmRate: Double = 0, seed: UInt64 = 0) { self.rate = rate; self.spmRate = spmRate; self.seed = seed }
}

/// What FIM does to one document: nothing, or an order and two cut points (in Unicode scalars).
public struct FIMPlan: Sendable, Equatable {
    public var order: FIMOrder
    public var cuts: (Int, Int)
    public static func == (a: FIMPlan, b: FIMPlan) -> Bool { a.order == b.order && a.cuts == b.cuts }
}

/// The document key for `plan`: the input's position in the input list and the document's line.
public func fimDocumentKey(inputIndex: Int, line: Int) -> UInt64 { UInt64(inputIndex) << 40 ^ UInt64(line) }

/// Decides whether and how the document with `key` and `scalarCount` Unicode scalars is transformed.
public func fimPlan(_ config: FIMConfig, key: UInt64, scalarCount n: Int) -> FIMPlan? {
    guard config.rate > 0 else { return nil }
    var rng = SplitMix64(seed: config.seed ^ (key &* 0xD1B5_4A32_D192_ED03))
    guard rng.unit() < config.rate else { return nil }
    let order: FIMOrder = rng.unit() < config.spmRate ? .spm : .psm
    let a = Int.random(in: 0 ... n, using: &rng), b = Int.random(in: 0 ... n, using: &rng)
    return FIMPlan(order: order, cuts: (min(a, b), max(a, b)))
}

/// Cuts `text` at the plan's scalar positions into prefix, middle and suffix.
public func fimSplit(_ text: String, _ plan: FIMPlan) -> (prefix: String, middle: String, suffix: String) {
    let scalars = text.unicodeScalars
    let i = scalars.index(scalars.startIndex, offsetBy: plan.cuts.0)
    let j = scalars.index(i, offsetBy: plan.cuts.1 - plan.cuts.0)
    return (String(scalars[..<i]), String(scalars[i ..< j]), String(scalars[j...]))
}

/// Lays out the separately encoded parts in the plan's order (without end-of-text).
public func fimAssemble(prefix: [Int32], middle: [Int32], suffix: [Int32], tokens: FIMTokens, order: FIMOrder) -> [Int32] {
    var out: [Int32] = []
    out.reserveCapacity(prefix.count + middle.count + suffix.count + 3)
    switch order {
    case .psm:
        out.append(tokens.begin); out += prefix
        out.append(tokens.hole); out += suffix
        out.append(tokens.end); out += middle
    case .spm:
        out.append(tokens.begin); out.append(tokens.hole); out += suffix
        out.append(tokens.end); out += prefix; out += middle
    }
    return out
}
