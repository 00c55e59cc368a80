import Foundation
import Testing

@testable import ExpertLock
@testable import ExpertLockDemo

@Suite struct CorpusTextTests {
    @Test(arguments: [
        (0, "zero"), (13, "thirteen"), (40, "forty"), (56, "fifty six"), (100, "one hundred"),
        (342, "three hundred and forty two"), (1005, "one thousand and five"),
        (2340, "two thousand three hundred and forty"),
        (-7, "minus seven"),
    ])
    func numberWords(n: Int, words: String) {
        #expect(CorpusText.words(n) == words)
        #expect(CorpusProbe.value(ofWords: words) == n)
    }

    @Test func ordinalsClocksAndDurations() {
        #expect(
            [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 90].map(CorpusText.ordinal)
                == ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "90th"])
        #expect(CorpusText.clock(485) == "08:05")
        #expect(CorpusText.clock(1440 + 65) == "01:05")
        #expect(CorpusText.duration(125) == "2 hours and 5 minutes")
        #expect(CorpusText.duration(60) == "1 hour")
        #expect(CorpusText.duration(45) == "45 minutes")
        #expect(CorpusText.decimal(tenths: 125) == "12.5")
        #expect(CorpusText.decimal(tenths: -3) == "-0.3")
        #expect(CorpusText.decimal(tenths: 70) == "7")
        #expect(CorpusText.roundedDivision(25, 10) == 3)
        #expect(CorpusText.roundedDivision(-25, 10) == -3)
        #expect(CorpusText.list(["a", "b", "c"]) == "a, b and c")
        #expect(CorpusText.article("alkali metal") == "an")
    }

    @Test func jsonStringsRoundTrip() throws {
        let text = "She said \"hi\"\\ then\nleft\t\u{1}. Caf\u{E9}"
        let line = "{\"text\": \(JSONLine.quoted(text))}"
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
        #expect(object?["text"] == text)
    }

    @Test func splitMembershipIsAPartition() {
        for text in ["a", "b", "Oslo", "def f(x):\n    return x", ""] {
            let owners = [CorpusSplit.train, .valid, .test].filter { $0.owns(text) }
            #expect(owners.count == 1)
        }
    }
}
