// In-process tests of the pipeline stages (the CLI suites keep the cases that need a process).
import Testing
@testable import Pipeline
