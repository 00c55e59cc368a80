import Foundation
import Testing
import TensorCore

/// `TensorCore.HalfPrecision` against torch (fixture written by
/// scripts/fixtures/make_safetensors_fixtures.py) and, where available, Swift's own `Float16`.
/// Lives here because the torch fixture belongs to the checkpoint fixtures.
@Suite struct HalfPrecisionTests {
    let golden: [String: Any]

    init() throws {
        golden = try TestSupport.readJSON(TestSupport.fixtures.appendingPathComponent("checkpoints/halfprecision.json"))
    }

    private func floats(_ key: String) -> [Float] { TestSupport.bits(golden[key]).map(Float.init(bitPattern:)) }
    private func halves(_ key: String) -> [UInt16] {
        TestSupport.ints(golden[key]).map { UInt16(truncatingIfNeeded: $0) }
    }

    @Test func floatToBF16MatchesTorch() {
        let input = floats("f32_bits")
        let expected = halves("bf16_bits")
        #expect(input.count == expected.count && input.count > 1000)
        var out = [UInt16](repeating: 0, count: input.count)
        HalfPrecision.floatToBF16(input, &out, count: input.count)
        for i in input.indices where out[i] != expected[i] {
            Issue.record(
                """
                bf16(\(String(input[i].bitPattern, radix: 16))) = \(String(out[i], radix: 16)), torch \
                \(String(expected[i], radix: 16))
                """
            )
        }
    }

    @Test func floatToF16MatchesTorch() {
        let input = floats("f32_bits")
        let expected = halves("f16_bits")
        var out = [UInt16](repeating: 0, count: input.count)
        HalfPrecision.floatToF16(input, &out, count: input.count)
        for i in input.indices where out[i] != expected[i] {
            Issue.record(
                """
                f16(\(String(input[i].bitPattern, radix: 16))) = \(String(out[i], radix: 16)), torch \
                \(String(expected[i], radix: 16))
                """
            )
        }
    }

    @Test func f16ToFloatMatchesTorch() {
        let input = halves("f16_inputs")
        let expected = TestSupport.bits(golden["f16_to_f32_bits"])
        #expect(input.count == expected.count && input.count > 500)
        var out = [Float](repeating: 0, count: input.count)
        HalfPrecision.f16ToFloat(input, &out, count: input.count)
        // NaN bits differ between torch's vectorised and scalar loops; any NaN is a match for NaN.
        for i in input.indices
        where Float(bitPattern: expected[i]).isNaN ? !out[i].isNaN : out[i].bitPattern != expected[i] {
            Issue.record(
                """
                f32(f16 \(String(input[i], radix: 16))) = \(String(out[i].bitPattern, radix: 16)), torch \
                \(String(expected[i], radix: 16))
                """
            )
        }
    }

    @Test func bf16ToFloatIsExactAndRoundTrips() {
        let all = (0...UInt16.max).map { $0 }
        var widened = [Float](repeating: 0, count: all.count)
        HalfPrecision.bf16ToFloat(all, &widened, count: all.count)
        var back = [UInt16](repeating: 0, count: all.count)
        HalfPrecision.floatToBF16(widened, &back, count: all.count)
        for i in all.indices {
            #expect(widened[i].bitPattern == UInt32(all[i]) << 16)
            if !widened[i].isNaN { #expect(back[i] == all[i]) }
        }
    }

    /// Large counts take the parallel path: every element must equal the scalar kernel's result.
    @Test func bulkConversionsMatchScalarKernels() {
        var rng = SystemRandomNumberGenerator()
        let n = 3 * parallelGrain + 17
        let input = (0..<n).map { _ in Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng)) }
        var bf = [UInt16](repeating: 0, count: n)
        var f16 = [UInt16](repeating: 0, count: n)
        HalfPrecision.floatToBF16(input, &bf, count: n)
        HalfPrecision.floatToF16(input, &f16, count: n)
        var wide = [Float](repeating: 0, count: n)
        HalfPrecision.f16ToFloat(f16, &wide, count: n)
        var mismatches = 0
        for i in 0..<n {
            if bf[i] != HalfPrecision.bf16Bits(input[i].bitPattern) { mismatches += 1 }
            if f16[i] != HalfPrecision.f16Bits(input[i]) { mismatches += 1 }
            if wide[i].bitPattern != HalfPrecision.floatFromF16Bits(f16[i]).bitPattern { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    #if !(os(macOS) && arch(x86_64))
        /// Swift's `Float16` is an independent IEEE implementation: all 65 536 half values widen alike.
        @Test func f16ToFloatAgreesWithSwiftFloat16Exhaustively() {
            let all = (0...UInt16.max).map { $0 }
            var out = [Float](repeating: 0, count: all.count)
            HalfPrecision.f16ToFloat(all, &out, count: all.count)
            for i in all.indices {
                let reference = Float(Float16(bitPattern: all[i]))
                if reference.isNaN {
                    #expect(out[i].isNaN)
                } else {
                    #expect(out[i].bitPattern == reference.bitPattern, "f16 \(String(all[i], radix: 16))")
                }
            }
        }

        @Test func floatToF16AgreesWithSwiftFloat16OnRandomBits() {
            var rng = SystemRandomNumberGenerator()
            let input = (0..<200_000).map { _ in Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng)) }
            var out = [UInt16](repeating: 0, count: input.count)
            HalfPrecision.floatToF16(input, &out, count: input.count)
            var mismatches = 0
            for i in input.indices where !input[i].isNaN && out[i] != Float16(input[i]).bitPattern { mismatches += 1 }
            #expect(mismatches == 0)
        }
    #endif
}

/// Mirrors `HalfPrecision.grain` (internal) so the bulk test crosses several chunks.
private let parallelGrain = 1 << 16
