import Crypto
import Foundation

/// A cheap fingerprint of a model folder's contents, for resume states: a run resumed after the
/// folder's weights were replaced (same path, same shapes, other values) must be refused, not
/// continued with statistics of two models mixed.
///
/// Hashing every byte of a large checkpoint would cost as much as reading it. This hashes the
/// small files whole (config, mask, adapter config, safetensors index) and, for each
/// `*.safetensors` file, its size, its header (names, shapes, offsets) and 16 blocks of 4 KB spread
/// evenly over the data: training changes every weight, so any update moves the sampled bytes.
/// (A change confined to bytes between samples is not seen; it is a guard against mistakes, not
/// against an adversary, which is what `lock` is for.)
public enum ModelFolderIdentity {
    static let blockBytes = 4096
    static let blocks = 16

    public static func fingerprint(of directory: URL) -> String {
        var hasher = SHA256()
        func add(_ text: String) { hasher.update(data: Data((text + "\u{0}").utf8)) }
        let fm = FileManager.default
        let names = ((try? fm.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
        for name in names {
            let url = directory.appendingPathComponent(name)
            if name.hasSuffix(".json") {
                add(name)
                hasher.update(data: fm.contents(atPath: url.path) ?? Data())
            } else if name.hasSuffix(".safetensors"), let handle = try? FileHandle(forReadingFrom: url) {
                defer { try? handle.close() }
                let size = (try? handle.seekToEnd()) ?? 0
                add("\(name) \(size)")
                try? handle.seek(toOffset: 0)
                let lengthBytes = (try? handle.read(upToCount: 8)) ?? Data()
                hasher.update(data: lengthBytes)
                let headerLength =
                    lengthBytes.count == 8
                    ? lengthBytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) } : 0
                if headerLength > 0 && 8 + headerLength <= size {
                    hasher.update(data: (try? handle.read(upToCount: Int(headerLength))) ?? Data())
                }
                let start = min(size, 8 + headerLength)
                let span = size - start
                for i in 0..<UInt64(blocks) where span > 0 {
                    try? handle.seek(toOffset: start + span * i / UInt64(blocks))
                    hasher.update(data: (try? handle.read(upToCount: blockBytes)) ?? Data())
                }
            }
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
