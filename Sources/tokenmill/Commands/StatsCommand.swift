// `tokenmill stats`: document, byte and character counts with length quantiles, overall and by field.
import ArgumentParser
import CorpusIO
import Foundation

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Count documents, bytes and characters (placeholder).")
    @OptionGroup var input: InputOptions
    func run() throws {}
}
