// `tokenmill report OUT`: rewrites report.html and report.json from a directory `tokenmill demo` filled.
import ArgumentParser
import CorpusIO
import Foundation
import Pipeline
import Report
import Training

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write report.html and report.json from a directory `tokenmill demo` filled.",
        discussion: """
        Example: tokenmill report out/demo

        Reads DIR/demo.json, tokenizer-stats.json, train.packed.json, run/metrics.jsonl and bpb.json; a \
        missing file leaves its figure out with a note. Memory: the inputs, read whole (small).
        """
    )

    @Argument(help: "The demo's output directory.")
    var directory: String

    func run() throws {
        try reportingErrors {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
                throw RuntimeFailure(description: "\(directory): not a directory")
            }
            let data = try ReportData.load(directory: directory)
            try data.write(directory: directory, version: TokenMill.configuration.version)
            let missing = data.missing.keys.sorted()
            printError("report: wrote \((directory as NSString).appendingPathComponent(DemoLayout.reportHTML)) and \(DemoLayout.reportJSON)" +
                       (missing.isEmpty ? "" : "; without \(missing.joined(separator: ", ")) (missing: \(missing.map { data.missing[$0]! }.joined(separator: ", ")))"))
        }
    }
}
