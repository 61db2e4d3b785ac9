// The `tokenmill` command: one subcommand per job, in the order data flows.
import ArgumentParser
import Foundation

@main
struct TokenMill: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenmill",
        abstract: "Turn raw text corpora into training data and measure what a model learned from it.",
        version: "0.1.0",
        subcommands: [
            NormalizeCommand.self,
            StatsCommand.self,
            SplitCommand.self,
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

    /// argument-parser's `main`, with OpenBLAS's kernel settled (`OpenBLASSetup`) after the arguments
    /// are parsed and before a command that multiplies matrices runs.
    static func main() {
        OpenBLASSetup.runCheckIfAsked()
        do {
            var command = try parseAsRoot()
            if let user = command as? UsesOpenBLAS, user.needsOpenBLAS() { OpenBLASSetup.settle() }
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}
