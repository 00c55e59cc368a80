import Foundation
import Testing
import ExpertLock

struct TokenIdsFileTests {
    @Test(arguments: [
        ("[1, 22557, 1526]\n", [1, 22557, 1526]), ("9707 1879\n0\t2\r\n", [9707, 1879, 0, 2]), ("[]", []), ("", []),
    ])
    func parsesArraysAndWhitespaceSeparatedIds(_ text: String, _ expected: [Int]) throws {
        #expect(try TokenIdsFile.parse(Data(text.utf8), file: "ids") == expected)
    }

    @Test(arguments: [
        ("[1, 2.5]", "ids: token ids file: element 1 is not an integer"),
        ("[1, \"2\"]", "ids: token ids file: element 1 is not an integer"),
        ("[1, 2", "ids: token ids file: not a JSON array of integers"),
        ("1 two 3", "ids: token ids file: token 2 'two' is not an integer"),
        ("99999999999999999999", "ids: token ids file: token 1 '99999999999999999999' is not an integer"),
    ])
    func refusesWhatIsNotAListOfIntegers(_ text: String, _ message: String) {
        #expect {
            try TokenIdsFile.parse(Data(text.utf8), file: "ids")
        } throws: { ($0 as? DatasetError)?.description == message }
    }

    @Test func refusesInvalidUTF8() {
        #expect(throws: DatasetError.invalidTokenIds(file: "ids", reason: "not UTF-8 text")) {
            try TokenIdsFile.parse(Data([0x31, 0x20, 0xFF]), file: "ids")
        }
    }
}
