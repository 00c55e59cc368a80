import Foundation
import Testing

@testable import ExpertLockCLI

/// Progress lines (issue 23, item 16): rate and ETA count this process's work only, so a resumed
/// run does not claim millions of tokens per second and an ETA of 0; a streamed pass shows its
/// elapsed time and an ETA.
struct ProgressLineTests {
    @Test func rateAndETAAfterResumeCountOnlyThisRunsWork() {
        // 90 of 100 batches (27.8M tokens) were done before the kill; 1 batch here in 2 s.
        let line = ProgressLine.line(
            label: "attribute", done: 91, total: 100, unit: "tokens", elapsed: 2, doneHere: 1, unitsHere: 300_000)
        #expect(line == "attribute: 91/100, 150000 tokens/s, 2s elapsed, ETA 18s", "\(line)")
        let first = ProgressLine.line(
            label: "attribute", done: 90, total: 100, unit: "tokens", elapsed: 0.01, doneHere: 0, unitsHere: 0)
        #expect(first.hasSuffix("ETA unknown"), "\(first)")
        let progress = ProgressLine("attribute", quiet: true)
        progress.resumed(done: 90, tokens: 27_859_174)
        #expect(progress.start.timeIntervalSinceNow > -5)
    }

    @Test func streamedPassesShowElapsedAndETA() {
        let line = StreamingOptions.line("attribute", stage: 2, of: 5, name: "layer 1", elapsed: 30)
        #expect(line == "attribute: layer 1 (2/5), 30s elapsed, ETA 45s", "\(line)")
    }
}
