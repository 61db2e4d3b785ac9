// Checking data and checkpoints against the SHA-256 their writers recorded, before a command uses them:
//   datasets     PREFIX.json "sha256" (DatasetHashes): `train` (its data and validation split), `merge`
//                (its shards), `pack` (its inputs), `inspect`, `megatron-args --prepare`; --no-verify skips the
//                check and says so on stderr
//   checkpoints  RUN/checkpoint/state.json "files" (Checkpoint.verify): `train --resume`, `export-hf`,
//                `bpb`; `train --no-verify` skips it too
// A manifest or checkpoint written before TokenMill recorded hashes is used with a one-line warning.
import Foundation
import Packing
import Pipeline
import Training

/// Checks the dataset `prefix` (.bin/.idx) against the hashes its manifest records (`DatasetVerification`),
/// printing a warning when the manifest records none; `noVerify` only says the check is skipped.
func verifyDataset(_ prefix: String, noVerify: Bool, command: String) throws {
    if noVerify {
        printError("\(command): --no-verify: \(prefix).bin/.idx are not checked against the SHA-256 in their manifest")
        return
    }
    if case .notRecorded(let manifest) = try DatasetVerification.check(prefix: prefix) {
        printError("warning: \(manifest) records no SHA-256 of \(prefix).bin/.idx (written before TokenMill recorded them); not verified")
    }
}

/// Checks a checkpoint directory's files against the SHA-256 its state.json records; a checkpoint
/// saved before TokenMill recorded them loads with a warning.
func verifyCheckpoint(_ dir: String) throws {
    if try !Checkpoint.verify(directory: dir) {
        printError("warning: \(dir) records no SHA-256 of its files (no state.json, or saved before TokenMill recorded them); loading it unverified")
    }
}

/// `train`'s checks: the data (a Megatron prefix; raw token files record nothing), its PREFIX_valid
/// when present, and the checkpoint being resumed. `noVerify` skips all three, saying so once.
func verifyTrainingInputs(data: String, checkpoint: String?, noVerify: Bool) throws {
    if noVerify {
        printError("train: --no-verify: the data\(checkpoint == nil ? "" : " and the checkpoint") are not checked against their recorded SHA-256")
        return
    }
    if let checkpoint { try verifyCheckpoint(checkpoint) }
    let prefix = datasetPrefix(data)
    let fm = FileManager.default
    for p in [prefix, prefix + "_valid"] where fm.fileExists(atPath: p + ".bin") && fm.fileExists(atPath: p + ".idx") {
        try verifyDataset(p, noVerify: false, command: "train")
    }
}
