import Foundation

/// JSON text written the way the Python side writes it, for files Hugging Face tools read back.
///
/// `JSONSerialization` would print `1000000.0` as `1000000`, and transformers 5 configs are
/// strict dataclasses that refuse an int where a float is declared (`rms_norm_eps`,
/// `router_jitter_noise`, ...). So numbers keep their kind: a double parsed from the source
/// prints as a float (Swift's shortest round-trip text, which matches Python's `repr`), an
/// integer as an integer, a boolean as `true`/`false`.
enum JSONText {
    /// Like Python's `json.dumps(value, indent=2, sort_keys=True)` (ASCII-only, as `ensure_ascii`).
    /// `value` is a `JSONSerialization` tree or Swift `String`/`Int`/`Double`/`Bool`/arrays/dictionaries.
    static func pretty(_ value: Any) -> String {
        var out = ""
        append(value, indent: 0, to: &out)
        return out
    }

    private static func append(_ value: Any, indent: Int, to out: inout String) {
        let pad = String(repeating: " ", count: indent + 2)
        switch value {
        case let object as [String: Any]:
            if object.isEmpty { out += "{}"; return }
            out += "{\n"
            for (i, key) in object.keys.sorted().enumerated() {
                out += pad + quoted(key, asciiOnly: true) + ": "
                append(object[key] ?? NSNull(), indent: indent + 2, to: &out)
                out += i + 1 < object.count ? ",\n" : "\n"
            }
            out += String(repeating: " ", count: indent) + "}"
        case let array as [Any]:
            if array.isEmpty { out += "[]"; return }
            out += "[\n"
            for (i, element) in array.enumerated() {
                out += pad
                append(element, indent: indent + 2, to: &out)
                out += i + 1 < array.count ? ",\n" : "\n"
            }
            out += String(repeating: " ", count: indent) + "]"
        case let string as String:
            out += quoted(string, asciiOnly: true)
        default:
            out += scalar(value)
        }
    }

    /// Numbers, booleans and null.
    private static func scalar(_ value: Any) -> String {
        switch value {
        case is NSNull: return "null"
        // Swift values first, by exact dynamic type: on Linux `as? Bool` also matches NSNumber 0 and 1.
        case let bool as Bool where type(of: value) == Bool.self: return bool ? "true" : "false"
        case let int as Int where type(of: value) == Int.self: return String(int)
        case let double as Double where type(of: value) == Double.self: return float(double)
        case let number as NSNumber:
            switch String(cString: number.objCType) {
            case "c", "B": return number.boolValue ? "true" : "false"
            case "d", "f": return float(number.doubleValue)
            case "Q": return String(number.uint64Value)
            default: return String(number.int64Value)
            }
        default: return "null"
        }
    }

    /// Python's float spelling: always with a point or an exponent, non-finite as Python writes it.
    static func float(_ x: Double) -> String {
        if x.isNaN { return "NaN" }
        if x.isInfinite { return x < 0 ? "-Infinity" : "Infinity" }
        return x.description
    }

    /// A JSON string literal. `asciiOnly` escapes everything beyond ASCII as `\uXXXX` (Python's
    /// default); otherwise UTF-8 passes through (the Rust safetensors writer's behaviour).
    static func quoted(_ s: String, asciiOnly: Bool) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 || (asciiOnly && scalar.value > 0x7F) {
                    for unit in String(scalar).utf16 { out += String(format: "\\u%04x", unit) }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
