// The `tokenmill` command: one subcommand per job, in the order data flows.
import ArgumentParser

@main
struct TokenMill: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenmill",
        abstract: "Turn raw text corpora into training data and measure what a model learned from it.",
        version: "0.1.0",
        subcommands: [
            NormalizeCommand.self,
            StatsCommand.self,
            DedupCommand.self,
            DecontaminateCommand.self,
            TrainTokenizerCommand.self,
            EncodeCommand.self,
            DecodeCommand.self,
            TokenizerStatsCommand.self,
            TokenizeCommand.self,
            PrepareCommand.self,
            PackCommand.self,
            MergeCommand.self,
            InspectCommand.self,
            TrainCommand.self,
            ExportHFCommand.self,
            ImportHFCommand.self,
            MegatronArgsCommand.self,
            BPBCommand.self,
            DemoCommand.self,
            ReportCommand.self,
            SHA256Command.self,
            CastCommand.self,
            FP8GemmErrorCommand.self,
        ]
    )
}
