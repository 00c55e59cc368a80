import ExpertLock
import Foundation
import Testing

@Suite struct PlainTextReaderTests {
    @Test func splitsOnBlankLinesAndHeadings() {
        let text = " \n = Title = \n \n First paragraph . \n Still first . \n \n = = Section = = \n Second . \r\n\n\n"
        let documents = PlainTextReader.documents(in: text)
        #expect(documents.map(\.text) == ["First paragraph . \n Still first .", "Second ."])
    }

    @Test func loadsDocumentsAndWholeText() throws {
        let contents = "= A =\n\nalpha beta\n\ngamma\n"
        let url = try DatasetFiles.write("wiki.valid.tokens", contents)
        let (dataset, skipped) = try DatasetLoader.load(url)
        guard case .text(let documents) = dataset else {
            Issue.record("expected text")
            return
        }
        #expect(skipped == 0)
        #expect(documents.map(\.text) == ["alpha beta", "gamma"])
        #expect(try PlainTextReader.wholeText(of: url) == contents)
        #expect(try DatasetLoader.load(url, limit: 1).0.count == 1)
    }

    /// Issue 23, item 2: a corpus saved with CRLF or lone CR line ends reads as the LF file, whole
    /// and as documents (a kept "\r" tokenizes as a token of its own and changes the perplexity).
    @Test func lineEndsAreUniversal() throws {
        let lf = "= A =\n\nalpha beta\ngamma\n\ndelta\n"
        let crlf = try DatasetFiles.write("crlf.txt", lf.replacingOccurrences(of: "\n", with: "\r\n"))
        let cr = try DatasetFiles.write("cr.txt", lf.replacingOccurrences(of: "\n", with: "\r"))
        for url in [crlf, cr] {
            #expect(try PlainTextReader.wholeText(of: url) == lf, "\(url.lastPathComponent)")
            guard case .text(let documents) = try DatasetLoader.load(url).0 else {
                Issue.record("expected text")
                continue
            }
            #expect(documents.map(\.text) == ["alpha beta\ngamma", "delta"])
        }
        // A lone CR ends a JSONL record too.
        let records = try DatasetFiles.write("r.jsonl", "{\"text\": \"a\"}\r{\"text\": \"b\"}\r")
        #expect(try DatasetLoader.load(records).0.count == 2)
    }

    @Test func autoDetectsFromExtension() {
        #expect(DatasetLoader.detectFormat(of: URL(fileURLWithPath: "/d/dev_matched.tsv")) == .glue)
        #expect(DatasetLoader.detectFormat(of: URL(fileURLWithPath: "/d/x.jsonl")) == .jsonl)
        #expect(DatasetLoader.detectFormat(of: URL(fileURLWithPath: "/d/x.json")) == .jsonl)
        #expect(DatasetLoader.detectFormat(of: URL(fileURLWithPath: "/d/wiki.test.tokens")) == .text)
        #expect(DatasetLoader.detectFormat(of: URL(fileURLWithPath: "/d/notes.txt")) == .text)
    }

    @Test func explicitFormatOverridesExtension() throws {
        let url = try DatasetFiles.write("data.txt", "sentence\tlabel\nok\t1\n")
        #expect(try DatasetLoader.load(url, format: .glue).0.count == 1)
    }

    @Test func unreadableAndNonUTF8FilesAreErrors() throws {
        let missing = URL(fileURLWithPath: "/nonexistent/wiki.test.tokens")
        #expect(throws: DatasetError.self) { try DatasetLoader.load(missing) }
        let url = try DatasetFiles.write("bin.txt", "")
        try Data([0x66, 0xFF, 0xFE, 0x0A]).write(to: url)
        #expect(throws: DatasetError.notUTF8(file: url.path)) { try DatasetLoader.load(url) }
    }

    @Test(.enabled(if: DatasetFiles.shared("wikitext-2/wiki.test.tokens") != nil, "needs ../shared/data"))
    func readsRealWikiTextTest() throws {
        let url = try #require(DatasetFiles.shared("wikitext-2/wiki.test.tokens"))
        let whole = try PlainTextReader.wholeText(of: url)
        #expect(whole.utf8.count == 1_256_449)
        #expect(whole.unicodeScalars.count == 1_255_018)
        guard case .text(let documents) = try DatasetLoader.load(url).0 else {
            Issue.record("expected text")
            return
        }
        // Pinned by an independent Python split with the same rule.
        #expect(documents.count == 618)
        #expect(documents.first?.text.hasPrefix("Robert <unk> is an English film , television and theatre act") == true)
        // Words split on bytes: a combining mark after a space would glue two Characters together.
        let words = documents.reduce(0) { $0 + $1.text.utf8.split(whereSeparator: { $0 == 0x20 || $0 == 0x0A }).count }
        #expect(words == 235_854)
    }
}
