#!/usr/bin/env python3
"""Hand fixes of the whole-tree format (issue 24): lines over 120 columns that swift-format and
split_long_lines.py cannot break (interpolated or raw literals, regex literals, trailing comments). Each is an
exact replacement of the formatted text, so a run on another tree fails loudly instead of guessing."""
import os
import sys

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
def edit(p, pairs):
    s=open(p).read()
    for a,b in pairs:
        assert a in s, (p,a[:80])
        s=s.replace(a,b,1)
    open(p,'w').write(s)
edit('Sources/ExpertLockDemo/Demo/DemoReport.swift',[(
'''                "| \\(name) | \\(fmt(full)) | \\(fmt(r.pruned)) | \\(random.map { "\\(fmt($0.mean)) ± \\(fmt($0.std))" } ?? "–") | "''',
'''                "| \\(name) | \\(fmt(full)) | \\(fmt(r.pruned)) | "
                + "\\(random.map { "\\(fmt($0.mean)) ± \\(fmt($0.std))" } ?? "–") | "''')])
edit('Sources/ExpertLockFuzz/ParserCalls.swift',[(
'''            #"{"model_type":"mixtral","layers":2,"sparse_layers":[0,1],"experts_per_layer":[4,4],"hidden_size":8,"vocab_size":32}"#''',
'''            #"{"model_type":"mixtral","layers":2,"sparse_layers":[0,1],"experts_per_layer":[4,4],"hidden_size":8,"#
            + #""vocab_size":32}"#''')])
edit('Sources/ExpertLockCLI/Commands/SweepCommand.swift',[(
'''            ] + mergeSetting + (modelOptions.precisionOptions.precision == .f32 ? [] : ["precision=bf16"]),  // f32 runs keep theirs''',
'''            // f32 runs keep their fingerprint; bf16 ones say so.
            ] + mergeSetting + (modelOptions.precisionOptions.precision == .f32 ? [] : ["precision=bf16"]),''')])
edit('Sources/ExpertLockCLI/Commands/LogVerifyCommand.swift',[(
'''                        "  \\(difference.kind.rawValue): \\(difference.tensor.map { "\\($0): " } ?? "")\\(difference.detail)"''',
'''                        "  \\(difference.kind.rawValue): "
                            + "\\(difference.tensor.map { "\\($0): " } ?? "")\\(difference.detail)"''')])
edit('Sources/ExpertLockCLI/Commands/TrainCommand.swift',[(
'''            Start from --config (tiny, small or a config.json; random init) or --model DIR (continue). Data: --data FILE \\
            (text, GLUE TSV or JSONL, tokenized with --tokenizer DIR or --tokenizer bytes) or --ids FILE for --task lm. \\
            Checkpoints go to --out/checkpoint-<step> every --save-every steps; --resume continues the latest one exactly. \\''',
'''            Start from --config (tiny, small or a config.json; random init) or --model DIR (continue). \\
            Data: --data FILE \\
            (text, GLUE TSV or JSONL, tokenized with --tokenizer DIR or --tokenizer bytes) or --ids FILE for \\
            --task lm. \\
            Checkpoints go to --out/checkpoint-<step> every --save-every steps; --resume continues the latest \\
            one exactly. \\'''),(
'''            "training \\(network.config.modelType) (\\(network.parameters.reduce(0) { $0 + $1.elementCount }) parameters) "''',
'''            "training \\(network.config.modelType) "
                + "(\\(network.parameters.reduce(0) { $0 + $1.elementCount }) parameters) "''')])
edit('Sources/ExpertLockCLI/Commands/TrainTokenizerCommand.swift',[(
'''                    "\\(trained.vocabSize) tokens, \\(trained.merges.count) merges, \\(String(format: "%.2f", seconds)) s: \\(out)"''',
'''                    "\\(trained.vocabSize) tokens, \\(trained.merges.count) merges, "
                        + "\\(String(format: "%.2f", seconds)) s: \\(out)"''')])
edit('Sources/ExpertLockCLI/Commands/EvalCommand.swift',[(
'''            "peak_rss_bytes" (and "peak_rss_mb"). --stream-layers (perplexity, classify) evaluates a checkpoint larger than memory \\''',
'''            "peak_rss_bytes" (and "peak_rss_mb"). --stream-layers (perplexity, classify) evaluates a checkpoint \\
            larger than memory \\''')])
edit('Sources/MoEModels/Models/MoEModel+Experts.swift',[(
'''                + "to \\(Set(width).sorted().map(String.init).joined(separator: "/")) experts, \\(dead.reduce(0, +)) dead "''',
'''                + "to \\(Set(width).sorted().map(String.init).joined(separator: "/")) experts, "
                + "\\(dead.reduce(0, +)) dead "''')])
edit('Sources/MoEModels/Checkpoints/SafeTensorsWriter.swift',[(
'''                    + ":{\\"dtype\\":\\"\\(tensor.dtype.rawValue)\\",\\"shape\\":[\\(shape)],\\"data_offsets\\":[\\(offset),\\(end)]}"''',
'''                    + ":{\\"dtype\\":\\"\\(tensor.dtype.rawValue)\\",\\"shape\\":[\\(shape)],"
                    + "\\"data_offsets\\":[\\(offset),\\(end)]}"''')])
edit('Sources/MoEModels/Tokenizers/SplitPattern.swift',[(
'''        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"#''',
'''        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"#
        + #"\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"#'''),(
'''        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"#''',
'''        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"#
        + #"\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"#''')])
edit('Sources/ExpertLock/Realignment/ClassificationPool.swift',[(
'''                        "example \\(bad.id) has \\(bad.label.map { "label \\($0), which has no verbalizer" } ?? "no label")"''',
'''                        "example \\(bad.id) has "
                        + "\\(bad.label.map { "label \\($0), which has no verbalizer" } ?? "no label")"''')])
edit('Sources/ExpertLock/Pruning/PrunabilityCurve+Report.swift',[(
'''                    "| \\(p.tau!) | \\(p.strategy) | \\(String(format: "%.2f", p.expertsKept)) | \\(Self.format(p.metric)) |"''',
'''                    "| \\(p.tau!) | \\(p.strategy) | \\(String(format: "%.2f", p.expertsKept)) | "
                        + "\\(Self.format(p.metric)) |"'''),(
'''                "\\(p.k.map(String.init) ?? ""),\\(p.tau.map { "\\($0)" } ?? ""),\\(p.strategy),\\(p.seed.map(String.init) ?? ""),\\(p.expertsKept),\\(p.metric)"''',
'''                "\\(p.k.map(String.init) ?? ""),\\(p.tau.map { "\\($0)" } ?? ""),\\(p.strategy),"
                    + "\\(p.seed.map(String.init) ?? ""),\\(p.expertsKept),\\(p.metric)"''')])
edit('Tests/MoEModelsTests/Config/ModelConfigTests.swift',[(
'''        #""model_type": "mixtral", "vocab_size": 64, "hidden_size": 64, "intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 8"#''',
'''        #""model_type": "mixtral", "vocab_size": 64, "hidden_size": 64, "intermediate_size": 16, "#
        + #""num_hidden_layers": 2, "num_attention_heads": 8"#'''),(
'''                + #", "rope_parameters": {"rope_theta": 500000.0, "rope_type": "default"}, "dtype": "float16", "eos_token_id": [7, 8], "head_dim": null, "num_key_value_heads": null}"#''',
'''                + #", "rope_parameters": {"rope_theta": 500000.0, "rope_type": "default"}, "dtype": "float16", "#
                + #""eos_token_id": [7, 8], "head_dim": null, "num_key_value_heads": null}"#''')])
edit('Tests/MoEModelsTests/Families/FamilyLoadingTests.swift',[(
'''        let model = try ModelLoader.load(directory: FamilyParityTests.fixture(Self.deepseek))  // 8 experts, 2 groups, top-1 group''',
'''        // 8 experts, 2 groups, top-1 group
        let model = try ModelLoader.load(directory: FamilyParityTests.fixture(Self.deepseek))''')])
edit('Tests/MoEModelsTests/Checkpoints/SafeTensorsFileTests.swift',[(
'''        #expect(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 2, as: UInt16.self) } == 0x7BFF)  // 65504 in f16''',
'''        // 65504 in f16
        #expect(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 2, as: UInt16.self) } == 0x7BFF)''')])
edit('Tests/MoEModelsTests/Tokenizers/TokenizerErrorTests.swift',[(
'''            #"{"model": \\#(bpe), "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Whitespace"}, {"type": "FancySplit"}]}}"#''',
'''            #"{"model": \\#(bpe), "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Whitespace"}, "#
                + #"{"type": "FancySplit"}]}}"#'''),(
'''            #"{"model": \\#(bpe), "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated"}}"#''',
'''            #"{"model": \\#(bpe), "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(unclosed"}, "#
                + #""behavior": "Isolated"}}"#''')])
edit('Tests/ExpertLockTests/Training/TrainingCheckpointTests.swift',[(
'''        let model = try TrainingFixtures.microModel(vocab: Self.vocab, seed: 77)  // other init: all comes from the checkpoint''',
'''        // Other init: all comes from the checkpoint.
        let model = try TrainingFixtures.microModel(vocab: Self.vocab, seed: 77)''')])
edit('Tests/ExpertLockTests/Corpus/DomainFactsTests.swift',[
('''        var checked = 0
        for document in corpus.documents(count: 800, domains: [.finance]) {
            guard
                let m = document.text.firstMatch(
                    of:
                        #/revenue at .+? (rose|fell) from (\\d+) million to (\\d+) million dollars, (?:.+?) (\\d+) percent/#
                )
            else { continue }''','''        var checked = 0
        let report = #/revenue at .+? (rose|fell) from (\\d+) million to (\\d+) million dollars, (?:.+?) (\\d+) percent/#
        for document in corpus.documents(count: 800, domains: [.finance]) {
            guard let m = document.text.firstMatch(of: report) else { continue }'''),
('''        for document in corpus.documents(count: 800, domains: [.travel]) {
            guard
                let m = document.text.firstMatch(
                    of:
                        #/The (\\d\\d):(\\d\\d) \\w+ from \\w+ arrives in \\w+ at (\\d\\d):(\\d\\d).*?, a journey of (?:(\\d+) hours?)?(?: and )?(?:(\\d+) minutes)?\\./#
                )
            else { continue }''','''        // Extended syntax (a multi-line literal): spaces are written `\\ `.
        let timetable = #/
            The\\ (\\d\\d):(\\d\\d)\\ \\w+\\ from\\ \\w+\\ arrives\\ in\\ \\w+\\ at\\ (\\d\\d):(\\d\\d).*?,\\ a\\ journey\\ of
            \\ (?:(\\d+)\\ hours?)?(?:\\ and\\ )?(?:(\\d+)\\ minutes)?\\.
            /#
        for document in corpus.documents(count: 800, domains: [.travel]) {
            guard let m = document.text.firstMatch(of: timetable) else { continue }'''),
])
edit('Tests/ExpertLockTests/Fuzz/FuzzRegressionTests.swift',[(
'''                {"model_type":"mixtral","layers":2,"sparse_layers":[0,1],"experts_per_layer":[4,4],"hidden_size":8,"vocab_size":32}''',
'''                {"model_type":"mixtral","layers":2,"sparse_layers":[0,1],"experts_per_layer":[4,4],"hidden_size":8,\\#
                "vocab_size":32}''')])
# split_long_lines.py split a literal whose `.utf8` the formatter had moved to the next line.
edit('Sources/ExpertLockFuzz/FuzzRunner.swift',[(
'''                        "\\(target.name): peak "
                            + "memory \\(rss) MB after input \\(i) (saved as \\(report.memoryRunaway ?? ""))\\n"
                            .utf8))''','''                        ("\\(target.name): peak memory \\(rss) MB after input \\(i) "
                            + "(saved as \\(report.memoryRunaway ?? ""))\\n").utf8))''')])
