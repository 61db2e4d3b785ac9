// The records the data stages leave for later commands, as the CLI uses them (the types, their files and
// their layouts are in Pipeline/Manifests): the normalized-corpus sidecar `normalize` writes, and the
// training-data record `train` saves in its checkpoint for `bpb --run`, `export-hf` and `megatron-args --run`.
import ArgumentParser
import CorpusIO
import Foundation
import Pipeline

/// Runs a dataset stage, turning its usage errors into argument-parser's (exit 64).
func runningStage<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as StageError where e.kind == .usage { throw ValidationError(e.message) }
}

/// Runs a dataset stage (as `runningStage`) with `progress`, finishing it either way; the stage's result
/// and its seconds.
func reporting<T>(_ progress: ProgressReporter, _ body: (ProgressReporter) throws -> T) throws -> (T, Double) {
    defer { progress.finish() }
    return (try runningStage { try body(progress) }, progress.elapsed)
}

/// Writes X.tokenmill.json for the finished output X (atomically).
func writeNormalizationSidecar(output: String, record: NormalizationRecord, inputs: [String]) throws {
    try NormalizedCorpusManifest.write(output: output, normalization: record, inputs: inputs)
}

/// The record for `train --data data`.
func trainingDataRecord(data: String) throws -> TrainingDataRecord {
    try TrainingDataRecord.describing(data: data)
}

/// The record saved in a checkpoint directory, if any.
func savedTrainingDataRecord(checkpoint dir: String) throws -> TrainingDataRecord? {
    try TrainingDataRecord.read(checkpoint: dir)
}

let trainingDataRecordName = TrainingDataRecord.fileName

/// The record of a resumed run: the new data's, but the tokenizer must be the one the run began with.
func resumedTrainingDataRecord(old: TrainingDataRecord?, new: TrainingDataRecord, warn: (String) -> Void) throws -> TrainingDataRecord {
    try new.resuming(from: old, warn: warn)
}

/// `record` as the pretty JSON written into the checkpoint.
func trainingDataRecordJSON(_ record: TrainingDataRecord) -> Data { record.encoded }
