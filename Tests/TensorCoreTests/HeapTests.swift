import Testing

@testable import TensorCore

@Suite struct HeapTests {
    @Test func keepFreedMemoryIsIdempotentAndTensorsStillWork() {
        Heap.keepFreedMemory()
        Heap.keepFreedMemory()
        // Large blocks freed and allocated again (served from the heap, not mmap, once configured).
        for _ in 0..<3 {
            let t = Tensor(shape: [1024, 1024], repeating: 2)
            #expect(t.data[1024 * 1024 - 1] == 2)
        }
    }
}
