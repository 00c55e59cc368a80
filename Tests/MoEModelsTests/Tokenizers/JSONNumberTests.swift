import Foundation
import Testing

@testable import MoEModels

/// Numbers read bit for bit as the `tokenizers` library (serde_json) reads them: 2,034 spellings
/// from the fixture script, 292 of which are not the nearest double.
@Suite struct JSONNumberTests {
    @Test func readsLikeSerdeJSON() throws {
        let numbers = try UnigramFixtures.expected.numbers
        #expect(numbers.count > 2000)
        var notNearest = 0
        for number in numbers {
            let parsed = Result { try JSONParser.parse(Array(number.text.utf8)) }
            guard let bits = number.bits else {
                #expect(throws: JSONParseError.self, "\(number.text) is refused by the library") { try parsed.get() }
                continue
            }
            guard case .success(.number(let value)) = parsed else {
                Issue.record("\(number.text): \(parsed)")
                continue
            }
            #expect(String(format: "%016llx", value.bitPattern) == bits, "\(number.text)")
            if Double(number.text) != value { notNearest += 1 }
        }
        // The reason this reader exists: a correctly rounded one differs on these.
        #expect(notNearest > 100)
    }

    @Test func t5ScoreOfThreeDashes() throws {
        // T5's "---" score as the library holds it, one ulp above the nearest double (...40000000):
        // with the nearest double, "▁----------" would split as "-", "---", "---", "---" instead of
        // the library's "---", "---", "-", "---".
        guard case .number(let score) = try JSONParser.parse(Array("-12.130167007446289".utf8)) else {
            Issue.record("not a number")
            return
        }
        #expect(score.bitPattern == 0xC028_42A5_3FFF_FFFF)
    }
}
