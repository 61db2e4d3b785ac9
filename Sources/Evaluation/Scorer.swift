// Batched scoring of documents: the rolling windows (Windows.swift) of consecutive documents fill the B
// rows of the model's B×T input; each full batch runs one inference forward (Model.targetNLL: no MTP, no
// loss, no gradients; the head only at scored positions), and every scored position's −ln p adds, in
// Float64, to its document's sum in window order.
// Policy: a window shorter than T (a document shorter than T) is padded at the end with EOD; causal
// attention and per-token routing make trailing padding invisible to the real positions, and padded
// positions are never scored. Documents complete in the order they were added.
// Memory: the model's arenas (allocated once), B·T position and target buffers, and the tokens of the
// documents whose windows are in flight (at most B documents plus the one being cut).
import Training

/// The score of one document.
public struct DocumentScore: Equatable, Sendable {
    /// The caller's key (the order `add` saw).
    public var id: Int
    /// Tokens scored (the document's tokens, plus its EOD with `scoreEOD`).
    public var tokens: Int
    /// Σ −ln p over the scored tokens, in nats.
    public var nll: Double
}

public final class BPBScorer {
    public let model: Model<Float>
    public let eod: Int32
    public let stride: Int
    public let scoreEOD: Bool
    public var context: Int { model.T }
    /// Forward passes run and rows filled with a window, for throughput reports.
    public private(set) var forwards = 0, rowsUsed = 0, tokensScored = 0

    private struct Pending {
        var id: Int
        var sequence: [Int32]       // [EOD] + tokens (+ EOD when scored)
        var windows: [ScoringWindow]
        var nextWindow = 0
        var windowsDone = 0
        var nll = 0.0
    }
    private var pending: [Pending] = []
    private var firstPending = 0
    /// The pending document whose windows are being handed out.
    private var cursor = 0
    private var completed: [DocumentScore] = []
    /// Per row of the current batch: the pending document (index into `pending`) and its window.
    private var rows: [(doc: Int, window: ScoringWindow)] = []
    private let positions: UnsafeMutablePointer<Int32>
    private let targets: UnsafeMutablePointer<Int32>
    private let nlls: UnsafeMutablePointer<Double>

    /// - Parameters:
    ///   - model: weights loaded; its B and T are the batch rows and the context.
    ///   - eod: the end-of-text id that starts every document's first window.
    ///   - stride: tokens scored per later window, 1 ≤ stride ≤ T.
    ///   - scoreEOD: also score the EOD after the document's last token.
    public init(model: Model<Float>, eod: Int32, stride: Int, scoreEOD: Bool = false) {
        precondition(stride >= 1 && stride <= model.T)
        precondition(eod >= 0 && Int(eod) < model.config.vocabSize)
        self.model = model; self.eod = eod; self.stride = stride; self.scoreEOD = scoreEOD
        let N = model.B * model.T
        positions = .allocate(capacity: N); targets = .allocate(capacity: N); nlls = .allocate(capacity: N)
        rows.reserveCapacity(model.B)
        model.resetSegments()   // each row one segment: a window is one stretch of one document
    }

    deinit { positions.deallocate(); targets.deallocate(); nlls.deallocate() }

    /// Queues a document's tokens (ids below the model's vocabulary); runs forwards as rows fill.
    /// An empty document (no tokens, EOD not scored) completes at once with 0 tokens.
    public func add(id: Int, tokens: [Int32]) {
        var sequence = [eod]
        sequence.reserveCapacity(tokens.count + 2)
        sequence += tokens
        if scoreEOD && !tokens.isEmpty { sequence.append(eod) }
        let n = sequence.count - 1
        let windows = rollingWindows(tokenCount: n, context: model.T, stride: stride)
        pending.append(Pending(id: id, sequence: sequence, windows: windows))
        fillRows(final: false)
    }

    /// Runs the last partial batch; afterwards every added document is in `takeCompleted()`.
    public func finish() {
        fillRows(final: true)
    }

    /// The documents completed since the last call, in the order they were added.
    public func takeCompleted() -> [DocumentScore] {
        defer { completed.removeAll(keepingCapacity: true) }
        return completed
    }

    /// Scores documents one after another and returns their scores (for tests and small inputs).
    public func score(_ documents: [[Int32]]) -> [DocumentScore] {
        var out: [DocumentScore] = []
        for (i, d) in documents.enumerated() { add(id: i, tokens: d); out += takeCompleted() }
        finish()
        return out + takeCompleted()
    }

    // MARK: batching

    private func fillRows(final: Bool) {
        while true {
            // Hand out windows in document order.
            while rows.count < model.B && cursor < pending.count {
                if pending[cursor].nextWindow < pending[cursor].windows.count {
                    rows.append((cursor, pending[cursor].windows[pending[cursor].nextWindow]))
                    pending[cursor].nextWindow += 1
                } else {
                    cursor += 1
                }
            }
            retireCompleted()
            guard rows.count == model.B || (final && !rows.isEmpty) else { return }
            runBatch()
            retireCompleted()
        }
    }

    /// Moves finished documents at the front of `pending` to `completed`.
    private func retireCompleted() {
        while firstPending < pending.count {
            let p = pending[firstPending]
            guard p.windowsDone == p.windows.count else { break }
            completed.append(DocumentScore(id: p.id, tokens: p.sequence.count - 1, nll: p.nll))
            pending[firstPending].sequence = []
            firstPending += 1
        }
        // Compact once the retired prefix dominates, so `pending` stays O(B) long.
        if firstPending > 64 && firstPending * 2 > pending.count {
            cursor = max(cursor, firstPending)
            pending.removeFirst(firstPending)
            for r in rows.indices { rows[r].doc -= firstPending }
            cursor -= firstPending
            firstPending = 0
        }
    }

    private func runBatch() {
        let T = model.T, row = model.rowLength
        var count = 0
        for (b, r) in rows.enumerated() {
            let seq = pending[r.doc].sequence, w = r.window
            let dst = model.tokens + b * row
            for t in 0..<T { dst[t] = t < w.length ? seq[w.start + t] : eod }
            for t in w.scoredFrom..<w.length {
                positions[count] = Int32(b * T + t)
                targets[count] = seq[w.start + t + 1]
                count += 1
            }
        }
        // Unused rows (the last batch): EOD only, never scored.
        for b in rows.count..<model.B {
            let dst = model.tokens + b * row
            for t in 0..<T { dst[t] = eod }
        }
        model.targetNLL(positions: positions, targets: targets, count: count, into: nlls)
        var k = 0
        for r in rows {
            var sum = 0.0
            for _ in r.window.scoredFrom..<r.window.length { sum += nlls[k]; k += 1 }
            pending[r.doc].nll += sum
            pending[r.doc].windowsDone += 1
        }
        forwards += 1
        rowsUsed += rows.count
        tokensScored += count
        rows.removeAll(keepingCapacity: true)
    }
}
