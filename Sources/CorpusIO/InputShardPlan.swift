// Which input files shard I of N reads: a contiguous range of whole files, balanced by their size on
// disk, so a shard task opens only its own files and shards merged in shard order are one run's order.
// Policy (the cut rule, the same for every command that takes `--shard I/N` over inputs): with the
// inputs in the order given (directories and globs expanded sorted) and their sizes on disk S_0…S_{F−1}
// (compressed bytes as stored), total S and prefix sums P_k = S_0 + … + S_{k−1}, shard i takes files
// [b_i, b_{i+1}) with b_0 = 0, b_N = F, and for 0 < i < N, b_i is the k whose P_k is nearest to i·S/N
// (the smaller k on a tie), kept within [b_{i−1} + 1, F − (N − i)] so every shard has at least one
// file. Only sizes are needed (stat, no reads), so every shard computes every shard's range alone.
// Fewer files than shards is a usage error: `tokenmill split --parts N` makes N files of one big input
// in one pass (reading the whole input in every shard would be the N-fold I/O this plan exists to avoid).
// Cost: one stat per input.

import Foundation

/// Why a shard plan cannot be made.
public struct ShardPlanError: Error, Sendable, CustomStringConvertible {
    /// true when the request does not fit the inputs (the CLI exits 64); false for an unreadable input.
    public var isUsage: Bool
    public var message: String
    public init(isUsage: Bool, _ message: String) { self.isUsage = isUsage; self.message = message }
    public var description: String { message }
}

/// The input files of shard `index` of `count`.
public struct InputShardPlan: Sendable, Equatable {
    /// Every input of the run, in order.
    public let inputs: [String]
    /// Each input's size on disk in bytes.
    public let sizes: [Int64]
    public let index: Int
    public let count: Int
    /// This shard's files: indices into `inputs`.
    public let files: Range<Int>

    /// Plans shard `index` of `count` over `inputs` (paths as `expandInputs` returns them).
    /// - Throws: `ShardPlanError` when an input is stdin or cannot be stat'ed (naming it), or when there
    ///   are fewer inputs than shards.
    public init(inputs: [String], index: Int, count: Int) throws(ShardPlanError) {
        precondition(count >= 1 && index >= 0 && index < count, "shard \(index)/\(count) out of range")
        var sizes: [Int64] = []
        for path in inputs {
            if path == "-" { throw ShardPlanError(isUsage: true, "--shard \(index)/\(count): shards take whole input files, and stdin is not one; give files") }
            var st = stat()
            guard stat(path, &st) == 0 else {
                throw ShardPlanError(isUsage: false, "\(path): cannot stat: \(String(cString: strerror(errno)))")
            }
            sizes.append(Int64(st.st_size))
        }
        guard inputs.count >= count else {
            throw ShardPlanError(isUsage: true, "--shard \(index)/\(count): \(inputs.count) input file\(inputs.count == 1 ? "" : "s") for \(count) shards; each shard reads whole files, so split the input first (tokenmill split --parts \(count) -o DIR INPUT…) and shard DIR")
        }
        let cuts = Self.boundaries(sizes: sizes, parts: count)
        self.inputs = inputs
        self.sizes = sizes
        self.index = index
        self.count = count
        files = cuts[index] ..< cuts[index + 1]
    }

    /// The N + 1 file boundaries of the cut rule (see the file comment) for files of `sizes`.
    /// - Complexity: O(F) for F files.
    public static func boundaries(sizes: [Int64], parts n: Int) -> [Int] {
        let f = sizes.count
        precondition(n >= 1 && f >= n, "\(f) files cannot make \(n) non-empty parts")
        var prefix: [Int64] = [0]
        for s in sizes { prefix.append(prefix.last! + s) }
        let total = prefix[f]
        var cuts = [0]
        for i in 1 ..< n {
            // Integer ideal cut i·S/N (S·N stays far below 2⁶³ for any real corpus and shard count).
            let ideal = total / Int64(n) * Int64(i) + total % Int64(n) * Int64(i) / Int64(n)
            let low = cuts[i - 1] + 1, high = f - (n - i)
            var best = low
            for k in low ... high {
                if abs(prefix[k] - ideal) < abs(prefix[best] - ideal) { best = k }
                if prefix[k] >= ideal { break }  // prefix sums only grow from here
            }
            cuts.append(best)
        }
        cuts.append(f)
        return cuts
    }

    /// This shard's input paths.
    public var paths: [String] { Array(inputs[files]) }
    /// The size on disk of this shard's files, and of all inputs.
    public var bytes: Int64 { sizes[files].reduce(0, +) }
    public var totalBytes: Int64 { sizes.reduce(0, +) }

    /// "files 3–5 of 16" (1-based, inclusive, as people count).
    public var filesDescription: String {
        files.count == 1 ? "file \(files.lowerBound + 1) of \(inputs.count)" : "files \(files.lowerBound + 1)–\(files.upperBound) of \(inputs.count)"
    }
}
