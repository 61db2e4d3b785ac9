// The training loop: micro-batches → forward/backward → gradient accumulation → global-norm clipping →
// AdamW with warmup + cosine → aux-loss-free bias update; metrics every `log_every` steps (stderr and
// RUN/metrics.jsonl), validation every `eval_every`, atomic checkpoints every `checkpoint_every` and
// at the end. Resuming restores weights, moments, step and data position, so 2×N steps with a resume
// in between equal 2N straight, bit for bit (same thread counts). A non-finite loss or gradient norm
// stops the run before the update, naming the step, the loss part and the first non-finite tensor (if any) in
// parameter order (`firstNonFiniteTensor`, scanned only then); a failed metrics write warns once and
// is counted (`writeMetrics`).
// Memory: the model's arenas, AdamW's two moments, and one accumulation buffer when accumulating;
// nothing is allocated per step.
//
// Performance notes (AMD EPYC, 2 cores, OpenBLAS 0.3.21 Zen kernel, sgemm peak 130–140 GFLOP/s, shared
// machine): tools/bench-train, `small` at vocab 32768 without MTP, 4096 tokens a step: 929–1,107 tokens/s
// in four runs on 2026-11-30, 61–74% of the same run's sgemm peak, 1.18–1.47× PyTorch 2.13 eager with
// tcmalloc. The steps there: the vectorized row kernels (770 → 879–1,014 tokens/s in four runs on a quiet
// day; the head's scalar max/exp/scale loops had been 17% of a profile), idle OpenBLAS threads sleeping
// instead of spinning in sched_yield (OPENBLAS_THREAD_TIMEOUT, BLASKernel.swift), the attention core's
// per-core (sequence, head) pairs and causal row blocks (Attention.swift), and the element-wise kernels in
// C with AVX2+FMA (CKernels). Gate and up run as one GEMM. A profile now: sgemm's kernel 66%, OpenBLAS
// packing and beta passes 17% (the head's weight is packed twice per 256-row chunk; chunks of 512 or 1024
// were not measurably faster), the C kernels 4.3%.
import Foundation
import Packing

/// When to stop: the first condition reached (steps and tokens count from the start of the run,
/// including resumed steps; minutes count from this invocation).
public struct StopCondition: Sendable {
    public var steps: Int?
    public var tokens: Int?
    public var minutes: Double?
    public init(steps: Int? = nil, tokens: Int? = nil, minutes: Double? = nil) {
        self.steps = steps; self.tokens = tokens; self.minutes = minutes
    }
}

/// Training failures the CLI reports with exit code 1.
public struct TrainingError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

/// "NaN", "+infinity" or "-infinity" (Swift prints NaN as "nan" or "-nan").
func nonFinite(_ x: Double) -> String { x.isNaN ? "NaN" : x > 0 ? "+infinity" : "-infinity" }

/// The name of the first tensor of `specs`, in parameter order, with a NaN or an infinity in `values`
/// (a gradient or parameter buffer laid out by `parameterSizes`), or nil when all are finite.
/// `trainableOnly` skips the tensors the optimizer does not update (their gradients are unused).
/// - Complexity: O(parameters); the trainer calls it only after a loss or the gradient norm came out
///   non-finite, so a healthy step never pays for it.
public func firstNonFiniteTensor<S: TrainingScalar>(_ values: UnsafePointer<S>, specs: [ParameterSpec],
                                                    trainableOnly: Bool = false) -> String? {
    for s in specs where s.trainable || !trainableOnly {
        for i in s.offset..<(s.offset + s.count) where !values[i].isFinite { return s.name }
    }
    return nil
}

/// Which part of a forward pass's losses is non-finite, the first in the order the pass computes
/// them: "loss" (the main head), "MTP loss k" (k from 1), "balance loss"; "loss" when all parts are
/// finite but their sum is not.
public func nonFiniteLossName(_ losses: LossParts) -> (name: String, value: Double) {
    if !losses.main.isFinite { return ("loss", losses.main) }
    for (k, l) in losses.mtp.enumerated() where !l.isFinite { return ("MTP loss \(k + 1)", l) }
    if !losses.balance.isFinite { return ("balance loss", losses.balance) }
    return ("loss", losses.total)
}

public final class Trainer {
    public let config: RunConfig
    public let model: Model<Float>
    public let optimizer: AdamW<Float>
    public private(set) var state = TrainerState()
    public private(set) var lastValidationLoss: Double?
    public let data: TrainingData
    let sampler: RowSampler
    let run: String?
    let accumulated: UnsafeMutablePointer<Float>?
    let log: (String) -> Void
    /// RUN/metrics.jsonl, opened for appending (-1: no run directory).
    var metrics: Int32 = -1
    public private(set) var metricsPath: String?
    /// metrics.jsonl lines that could not be written (the first failure is warned about through `log`).
    public private(set) var metricsLinesLost = 0
    private var stepLosses = LossParts()
    /// Tokens per (MoE layer, expert) since the last log line.
    private var windowLoad: [Int]
    /// Tokens per expert of each MoE layer in the last `evaluate` (validation batches, biases fixed).
    public private(set) var lastValidationLoads: [[Int]] = []
    /// sgemm GFLOP/s measured at start, for the share-of-peak metric (0 = not measured).
    public var sgemmPeak = 0.0
    /// Called after every step with a one-line status (for a live progress line).
    public var progress: ((String) -> Void)?
    /// Saved as data.json in every checkpoint: what the run is trained on (see Checkpoint).
    public var dataRecord: Data?
    /// Tests: checkpoints are written to this pretend disk (`SimulatedDisk`), which fills up.
    public var simulatedDisk: SimulatedDisk?

    /// Opens the data, builds the model (initialized from the seed, or loaded with `resume`). `layout`
    /// says whether `data` is packed rows and its EOD id (Pipeline's `DatasetManifest.trainingLayout`
    /// reads it from the manifests; required, so a packed dataset is never read as a flat stream by
    /// omission); `eod` overrides its EOD id.
    public init(config: RunConfig, data: String, run: String?, resume: Bool, eod: Int? = nil,
                layout: DatasetLayout, log: @escaping (String) -> Void) throws {
        try config.validate()
        self.config = config
        self.log = log
        self.run = run
        let t = config.training
        model = Model<Float>(config: config.model, B: t.microBatchSize, T: t.sequenceLength, fp8: t.fp8Settings)
        optimizer = AdamW<Float>(count: model.parameterCount, beta1: t.beta1, beta2: t.beta2, epsilon: t.epsilon,
                                 weightDecay: t.weightDecay, bf16Moments: t.fp8Settings != nil)
        optimizer.lrScales = ["model.embed_tokens.weight": t.embeddingLRScale, "lm_head.weight": t.headLRScale]
        for spec in model.specs where spec.name.hasSuffix(".mlp.gate.weight") { optimizer.lrScales[spec.name] = t.routerLRScale }
        accumulated = t.gradientAccumulation > 1 ? .allocate(capacity: model.parameterCount) : nil
        windowLoad = Array(repeating: 0, count: model.moeLayerCount * config.model.nRoutedExperts)
        self.data = try TrainingData.open(path: data, vocabSize: config.model.vocabSize, T: t.sequenceLength,
                                          rowLength: model.rowLength, validationFraction: t.validationFraction, eod: eod,
                                          layout: layout)
        sampler = RowSampler(source: self.data.train, seed: t.seed)
        if let run {
            try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
            if resume {
                guard let dir = Checkpoint.directory(run: run) else {
                    throw TrainingError(message: "\(run): no checkpoint to resume from")
                }
                state = try Checkpoint.load(directory: dir, config: config, model: model, optimizer: optimizer)
                sampler.seek(state.position)
            } else if Checkpoint.directory(run: run) != nil {
                throw TrainingError(message: "\(run) already holds a checkpoint; pass --resume to continue it or choose another --out")
            }
            let path = run + "/metrics.jsonl"
            metrics = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard metrics >= 0 else {
                throw TrainingError(message: "\(path): cannot open for appending (\(String(cString: strerror(errno))))")
            }
            metricsPath = path
        } else if resume {
            throw TrainingError(message: "--resume needs --out RUN")
        }
        if !resume {
            model.initialize(seed: t.seed)
            state.seed = t.seed
        }
        stepLosses.mtp = Array(repeating: 0, count: config.model.numNextnPredictLayers)
    }

    deinit {
        accumulated?.deallocate()
        if metrics >= 0 { close(metrics) }
    }

    /// Tokens consumed by one optimizer step (predicted positions of the main head).
    public var tokensPerStep: Int { config.training.microBatchSize * config.training.sequenceLength * config.training.gradientAccumulation }

    /// The step at which the cosine schedule reaches its minimum: `training.steps`, or with a token
    /// budget the steps it takes, or with a time budget this invocation's steps so far plus the steps the
    /// remaining time allows at the average pace so far (re-estimated every step).
    public func plannedSteps(_ stop: StopCondition, elapsed: Double, stepsThisRun: Int) -> Int {
        if let tokens = stop.tokens { return (tokens + tokensPerStep - 1) / tokensPerStep }
        if let minutes = stop.minutes {
            guard stepsThisRun > 0 else { return max(config.training.steps, state.step + 1) }
            let pace = elapsed / Double(stepsThisRun)
            return state.step + max(1, Int((minutes * 60 - elapsed) / pace))
        }
        return config.training.steps
    }

    /// The last planned schedule length (see `plannedSteps`).
    public private(set) var scheduleSteps = 0

    /// Trains until `stop` (or `training.steps` when it names nothing); checkpoints at the end.
    public func train(until stop: StopCondition) throws {
        let t = config.training
        let targetSteps = stop.steps ?? (stop.tokens == nil && stop.minutes == nil ? t.steps : Int.max)
        let start = Date()
        let firstStep = state.step
        var windowStart = Date(), windowTokens = 0
        while state.step < targetSteps {
            if let tokens = stop.tokens, state.tokensSeen >= tokens { break }
            if let minutes = stop.minutes, Date().timeIntervalSince(start) >= minutes * 60 { break }
            scheduleSteps = plannedSteps(stop, elapsed: Date().timeIntervalSince(start), stepsThisRun: state.step - firstStep)
            let lr = learningRate(step: state.step, warmup: t.warmupSteps, total: scheduleSteps, peak: t.learningRate,
                                  minimum: t.minLearningRate)
            let (losses, norm) = try step(lr: lr)
            state.step += 1
            state.tokensSeen += tokensPerStep
            windowTokens += tokensPerStep
            if let progress {
                let elapsed = Date().timeIntervalSince(start), done = state.step - firstStep
                let end = targetSteps < Int.max ? targetSteps : scheduleSteps
                let eta = Double(max(end - state.step, 0)) * elapsed / Double(done)
                progress(String(format: "train: step %d/%d, loss %.4f, lr %.2e, %.0f tok/s, %d:%02d left", state.step, end,
                                losses.main, lr, Double(done * tokensPerStep) / max(elapsed, 1e-9), Int(eta) / 60, Int(eta) % 60))
            }
            let logNow = state.step % t.logEvery == 0 || state.step == targetSteps
            for i in 0..<windowLoad.count { windowLoad[i] += model.expertLoad[i] }
            if logNow {
                let loads = expertLoadSummary()
                model.updateBias()
                let seconds = Date().timeIntervalSince(windowStart)
                report(losses: losses, lr: lr, norm: norm, tokens: windowTokens, seconds: seconds, loads: loads)
                windowStart = Date(); windowTokens = 0
                for i in 0..<windowLoad.count { windowLoad[i] = 0 }
            } else {
                model.updateBias()
            }
            if state.step % t.evalEvery == 0 { evaluateAndLog() }
            if run != nil && state.step % t.checkpointEvery == 0 { try saveCheckpoint() }
        }
        if run != nil { try saveCheckpoint() }
    }

    /// "N metrics lines lost (PATH)" when some could not be written, else nil.
    public var metricsLossSummary: String? {
        guard metricsLinesLost > 0, let metricsPath else { return nil }
        return "\(metricsLinesLost) metrics line\(metricsLinesLost == 1 ? "" : "s") lost (\(metricsPath))"
    }

    /// One optimizer step; returns the mean losses over micro-batches and the pre-clip gradient norm.
    func step(lr: Double) throws -> (LossParts, Double) {
        let t = config.training, A = t.gradientAccumulation, P = model.parameterCount
        var mean = stepLosses
        stepLosses = LossParts()   // keeps `mean`'s storage uniquely referenced: no copy, no allocation
        mean.main = 0; mean.balance = 0; mean.total = 0
        for k in mean.mtp.indices { mean.mtp[k] = 0 }
        defer { stepLosses = mean }
        for micro in 0..<A {
            sampler.next(into: model)
            let loss = model.forward(computeGradients: true, countLoad: true)
            guard loss.isFinite else {
                // The parameters the forward pass read: the first non-finite one, when the last update made one.
                let (name, value) = nonFiniteLossName(model.losses)
                let where_ = firstNonFiniteTensor(model.params, specs: model.specs).map { "first non-finite parameter \($0)" }
                    ?? "all parameters finite"
                throw TrainingError(message: "\(name) is \(nonFinite(value)) at step \(state.step + 1) (\(where_)); stopping (the last checkpoint is kept). Try a lower learning_rate.")
            }
            model.backward()
            let l = model.losses
            mean.main += l.main / Double(A); mean.balance += l.balance / Double(A); mean.total += l.total / Double(A)
            for k in mean.mtp.indices { mean.mtp[k] += l.mtp[k] / Double(A) }
            if let acc = accumulated {
                let g = model.grads, scale = 1 / Float(A)
                if micro == 0 { for i in 0..<P { acc[i] = g[i] * scale } } else { for i in 0..<P { acc[i] += g[i] * scale } }
            }
        }
        let grads = accumulated ?? model.grads
        let norm = gradientNorm(grads, specs: model.specs)
        guard norm.isFinite else {
            // Finite Float gradients cannot overflow the Double sum of squares, so one of them is NaN or infinite.
            let where_ = firstNonFiniteTensor(grads, specs: model.specs, trainableOnly: true).map { "first non-finite gradient \($0)" }
                ?? "no single gradient non-finite"
            throw TrainingError(message: "gradient norm is \(nonFinite(norm)) at step \(state.step + 1) (\(where_)); stopping (the last checkpoint is kept). Try a lower learning_rate.")
        }
        let scale = norm > t.gradientClip ? t.gradientClip / norm : 1
        optimizer.update(params: model.params, grads: grads, specs: model.specs, lr: lr, gradScale: scale)
        state.optimizerStep = optimizer.step
        state.position = sampler.position
        return (mean, norm)
    }

    /// Mean main-head loss (over unmasked targets) of `eval_batches` fixed micro-batches: the first
    /// windows of the validation split, in order (nil without one).
    public func evaluate() -> Double? {
        let t = config.training
        guard let valid = data.valid, valid.windowCount > 0 else { return nil }
        var total = 0.0, w = 0
        // The routing of these batches (biases fixed) is the validation expert load; the training
        // step's own counts were cleared by `updateBias` and are cleared again after.
        model.clearExpertLoad()
        defer { model.clearExpertLoad() }
        for _ in 0..<t.evalBatches {
            for b in 0..<model.B {
                valid.fill(w % valid.windowCount, into: model, row: b)
                w += 1
            }
            model.forward(computeGradients: false, countLoad: true)
            total += model.losses.main
        }
        let E = config.model.nRoutedExperts
        lastValidationLoads = (0..<model.moeLayerCount).map { i in (0..<E).map { model.expertLoad[i * E + $0] } }
        return total / Double(t.evalBatches)
    }

    func evaluateAndLog() {
        guard let v = evaluate() else { return }
        lastValidationLoss = v
        let loads = lastValidationLoads.map { ExpertLoad(loads: $0, biasMin: 0, biasMax: 0) }
        log(String(format: "step %d: validation loss %.4f | expert load max/min per layer ", state.step, v)
            + loads.map { String(format: "%.2f", $0.ratio) }.joined(separator: " "))
        writeMetrics(["step": state.step, "val_loss": v, "val_expert_load": loads.enumerated().map { i, l in
            ["moe_layer": i, "max": l.max, "min": l.min, "max_over_min": l.ratio, "loads": l.loads] as [String: Any]
        }])
    }

    public func saveCheckpoint() throws {
        guard let run else { return }
        state.position = sampler.position
        try Checkpoint.save(run: run, config: config, model: model, optimizer: optimizer, state: state, dataRecord: dataRecord, disk: simulatedDisk)
    }

    /// One MoE layer's routing over the log window: tokens per expert, the last step's max/min, and
    /// the balancing bias range.
    struct ExpertLoad {
        var loads: [Int]
        var biasMin, biasMax: Double
        var stepRatio = 0.0
        var max: Int { loads.max() ?? 0 }
        var min: Int { loads.min() ?? 0 }
        var ratio: Double { Self.ratio(loads) }
        /// max/min of `loads` (an idle expert counts as 1 token).
        static func ratio(_ loads: [Int]) -> Double { Double(loads.max() ?? 0) / Double(Swift.max(loads.min() ?? 0, 1)) }
    }

    /// Per MoE layer (MTP layers last): the loads summed over the log window, and the current step's ratio.
    func expertLoadSummary() -> [ExpertLoad] {
        let E = config.model.nRoutedExperts
        let biases = model.biasRanges()
        return (0..<model.moeLayerCount).map { i in
            ExpertLoad(loads: Array(windowLoad[(i * E)..<((i + 1) * E)]), biasMin: biases[i].0, biasMax: biases[i].1,
                       stepRatio: ExpertLoad.ratio((0..<E).map { model.expertLoad[i * E + $0] }))
        }
    }

    func report(losses: LossParts, lr: Double, norm: Double, tokens: Int, seconds: Double, loads: [ExpertLoad]) {
        let windowSteps = tokens / tokensPerStep
        let tps = Double(tokens) / max(seconds, 1e-9)
        let flops = 3 * model.forwardFlopsPerToken * tps / 1e9
        let share = sgemmPeak > 0 ? flops / sgemmPeak : 0
        let ratios = loads.map { String(format: "%.2f", $0.ratio) }.joined(separator: " ")
        var line = String(format: "step %d | loss %.4f (main %.4f", state.step, losses.total, losses.main)
        for (k, l) in losses.mtp.enumerated() { line += String(format: ", mtp%d %.4f", k + 1, l) }
        line += String(format: ") | lr %.2e | norm %.2f | %.0f tok/s | %.1f GFLOP/s (%.0f%% of sgemm) | expert load max/min per layer over %d steps ",
                       lr, norm, tps, flops, share * 100, windowSteps) + ratios
        var fp8: [String: Any] = [:]
        if let f = model.fp8 {
            // Per tensor kind over the log window: ‖x − Q(x)‖/‖x‖ and the shares saturated and underflowed.
            let stats = f.takeStats()
            for (kind, st) in stats where st.count > 0 {
                fp8[kind.name] = ["relative_error": st.relativeError, "count": st.count,
                                  "saturated": Double(st.saturated) / Double(st.count),
                                  "underflowed": Double(st.underflowed) / Double(st.count)] as [String: Any]
            }
            func error(_ kind: FP8TensorKind) -> Double { 100 * (stats[kind]?.relativeError ?? 0) }   // 0 when nothing was counted
            line += String(format: " | fp8 error act %.2f%% w %.2f%% grad %.2f%%", error(.activation), error(.weight), error(.outputGradient))
        }
        log(line)
        var object: [String: Any] = [
            "step": state.step, "loss": losses.total, "loss_main": losses.main, "loss_mtp": losses.mtp,
            "balance_loss": losses.balance, "lr": lr, "grad_norm": norm, "tokens": state.tokensSeen,
            "tokens_per_s": tps, "activation_bytes": model.activationBytes, "kept_activation_bytes": model.keptActivationBytes, "fp8_scratch_bytes": model.fp8?.scratchBytes ?? 0,
            "optimizer_bytes": optimizer.momentBytes,
            "gflops": flops, "schedule_steps": scheduleSteps, "sgemm_peak_gflops": sgemmPeak, "peak_share": share,
            "expert_load": loads.enumerated().map { i, l in
                ["moe_layer": i, "max": l.max, "min": l.min, "max_over_min": l.ratio, "loads": l.loads,
                 "step_max_over_min": l.stepRatio, "bias_min": l.biasMin, "bias_max": l.biasMax] as [String: Any]
            },
        ]
        if model.fp8 != nil { object["fp8"] = fp8 }
        writeMetrics(object)
    }

    /// Appends one line to metrics.jsonl. A line that cannot be written (a full disk, an I/O error, a
    /// value JSON cannot hold) is counted in `metricsLinesLost`; the first such failure is warned about
    /// on one line naming the file and the error, and the run goes on: the checkpoints, not the
    /// metrics, are the run's product, and a disk too full for them stops the run with an error.
    /// A partly written line is cut off again (when the file can be truncated), so the file stays
    /// one JSON object per line.
    func writeMetrics(_ object: [String: Any]) {
        guard metrics >= 0, let path = metricsPath else { return }
        var failure: String?
        do {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) + Data("\n".utf8)
            let start = lseek(metrics, 0, SEEK_END)
            failure = data.withUnsafeBytes { raw -> String? in
                var done = 0
                while done < raw.count {
                    let n = write(metrics, raw.baseAddress! + done, raw.count - done)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 {
                        let e = n < 0 ? errno : EIO
                        if done > 0 && start >= 0 { _ = ftruncate(metrics, start) }   // best effort; the error is reported below
                        return "\(String(cString: strerror(e))) (errno \(e))"
                    }
                    done += n
                }
                return nil
            }
        } catch {
            failure = "cannot encode the line as JSON (\(error))"
        }
        guard let failure else { return }
        metricsLinesLost += 1
        if metricsLinesLost == 1 {
            log("warning: \(path): cannot write a metrics line: \(failure); the run goes on, lines that fail are counted and reported at the end")
        }
    }
}
