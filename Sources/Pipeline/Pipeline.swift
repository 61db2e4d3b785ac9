// The data half as a library: the stages of the corpus → normalized text → tokens → packed rows
// pipeline, each a type a Swift program can call, run by one ordered parallel runner, with typed
// manifests and progress events. The `tokenmill` executable only parses arguments, calls these and prints.
//
// Reading order:
//   DocumentStage.swift     the stage protocol (one method), `RecordStage`, skip counters, read totals
//   DocumentRunner.swift    the one runner: reader → decode + stage on N threads → results in input order
//   Progress.swift          progress in auto/bar/json/none (the json fields are listed there), the status line
//   TextTable.swift         the one table printer and the number formats
//   Committing.swift        write to a temporary name, commit or abandon
//   NormalizeStage.swift    cleanups + Unicode normalization → JSON Lines
//   WordCountStage.swift    pre-token counts with spilling (train-tokenizer's counting)
//   TrainedTokenizers.swift train-tokenizer end to end: counts → merges → one file per size
//   StatsStage.swift        document/byte/character counts and length quantiles, table and JSON
//   TokenizerStatsStage.swift  bytes per token, vocabulary use, longest tokens
//   EncodeStage.swift, DecodeStage.swift  documents ↔ JSON lines of ids
// The per-thread state stages borrow (normalizers, encoders, counters) comes from CorpusIO's
// `WorkerPool`; the bpb document loop lives in Evaluation (ScoreLoop.swift), which depends on this target.
