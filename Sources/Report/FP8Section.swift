// The report's FP8 part, present only when the run trained with training.precision fp8: the scaling and
// accumulation settings (from run/checkpoint/tokenmill.json), and per quantized tensor kind (activations,
// weights, output gradients, the Wgrad re-quantized activations) the quantization error ‖x − Q(x)‖/‖x‖,
// the shares of values saturated at ±448 and flushed to zero, over the whole run (each logged window
// weighted by its value count) and in the last window; the activation memory kept for the backward pass
// and the AdamW moment bytes. The figures come from metrics.jsonl's "fp8" objects (Trainer.swift).
import Foundation
import Pipeline

/// One quantized tensor kind's statistics.
public struct FP8KindRow: Equatable {
    public var name: String
    /// Values quantized over the run.
    public var count: Double
    /// ‖x − Q(x)‖/‖x‖: the run's (windows weighted by their value counts) and the last window's.
    public var relativeError: Double, lastRelativeError: Double
    /// Shares of the values that saturated (|x|·scale past 448) and that underflowed to zero.
    public var saturated: Double, underflowed: Double
}

public struct FP8Summary: Equatable {
    public var scaling = "", accumulation = ""
    public var kinds: [FP8KindRow] = []
    public var keptActivationBytes = 0, activationBytes = 0, scratchBytes = 0, optimizerBytes = 0

    /// Adds one metrics.jsonl line (a logged step); lines without "fp8" are ignored. A resumed run logs
    /// a step again: callers pass each step once (the last occurrence).
    mutating func add(metricsLine o: [String: Any]) {
        guard let fp8 = o["fp8"] as? [String: Any] else { return }
        for (name, value) in fp8 {
            guard let s = value as? [String: Any], let n = (s["count"] as? NSNumber)?.doubleValue, n > 0,
                  let e = (s["relative_error"] as? NSNumber)?.doubleValue else { continue }
            let sat = (s["saturated"] as? NSNumber)?.doubleValue ?? 0, under = (s["underflowed"] as? NSNumber)?.doubleValue ?? 0
            guard let i = kinds.firstIndex(where: { $0.name == name }) else {
                kinds.append(FP8KindRow(name: name, count: n, relativeError: e, lastRelativeError: e, saturated: sat, underflowed: under))
                continue
            }
            var k = kinds[i]
            let total = k.count + n
            // The run's error is the RMS over all values: combine the windows' squared errors by count.
            k.relativeError = ((k.relativeError * k.relativeError * k.count + e * e * n) / total).squareRoot()
            k.saturated = (k.saturated * k.count + sat * n) / total
            k.underflowed = (k.underflowed * k.count + under * n) / total
            k.lastRelativeError = e
            k.count = total
            kinds[i] = k
        }
        kinds.sort { $0.name < $1.name }
        func int(_ key: String) -> Int? { (o[key] as? NSNumber)?.intValue }
        keptActivationBytes = int("kept_activation_bytes") ?? keptActivationBytes
        activationBytes = int("activation_bytes") ?? activationBytes
        scratchBytes = int("fp8_scratch_bytes") ?? scratchBytes
        optimizerBytes = int("optimizer_bytes") ?? optimizerBytes
    }

    /// The settings from the run's checkpoint config (`path`: RUN/checkpoint/tokenmill.json), when there.
    mutating func readSettings(_ path: String) {
        guard let data = FileManager.default.contents(atPath: path),
              let training = ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?["training"] as? [String: Any] else { return }
        scaling = training["fp8_scaling"] as? String ?? ""
        accumulation = training["fp8_accumulation"] as? String ?? ""
    }

    var json: [String: Any] {
        ["fp8_scaling": scaling, "fp8_accumulation": accumulation, "kept_activation_bytes": keptActivationBytes,
         "activation_bytes": activationBytes, "fp8_scratch_bytes": scratchBytes, "optimizer_bytes": optimizerBytes,
         "kinds": kinds.map { k -> [String: Any] in
             ["name": k.name, "count": k.count, "relative_error": k.relativeError, "last_relative_error": k.lastRelativeError,
              "saturated": k.saturated, "underflowed": k.underflowed]
         }]
    }

    /// The report's FP8 figure: a settings line and one table row per tensor kind.
    var html: String {
        func pct(_ x: Double) -> String { String(format: x < 0.001 && x > 0 ? "%.4f%%" : "%.2f%%", 100 * x) }
        var out = "<figure id=\"fig-fp8\">\n<table class=\"fp8\"><thead><tr><th>tensor kind</th><th>values</th><th>error ‖x − Q(x)‖/‖x‖</th>"
            + "<th>last window</th><th>saturated</th><th>underflowed</th></tr></thead><tbody>"
        for k in kinds {
            out += "<tr><td>\(xmlEscape(k.name))</td><td class=\"t\">\(formatCount(Int(k.count)))</td><td class=\"t\">\(pct(k.relativeError))</td>"
                + "<td class=\"t\">\(pct(k.lastRelativeError))</td><td class=\"t\">\(pct(k.saturated))</td><td class=\"t\">\(pct(k.underflowed))</td></tr>"
        }
        out += "</tbody></table>\n<figcaption>FP8 (E4M3) training, fp8_scaling \(xmlEscape(scaling.isEmpty ? "?" : scaling)), "
            + "fp8_accumulation \(xmlEscape(accumulation.isEmpty ? "?" : accumulation)): quantization error per tensor kind over the run "
            + "and in the last logged window. Activations kept for the backward pass as FP8 codes and scales: "
            + "\(formatBytes(Int64(keptActivationBytes))) of \(formatBytes(Int64(activationBytes))) activation memory"
            + (optimizerBytes > 0 ? "; AdamW moments in bfloat16: \(formatBytes(Int64(optimizerBytes)))" : "")
            + ". Embedding, output head, gating, normalizations and attention stay in FP32 (DeepSeek-V3 §3.3).</figcaption>\n</figure>\n"
        return out
    }
}
