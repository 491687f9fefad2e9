//! Plain words for the type names Rhai puts in its messages (`i64`, `Signal`,
//! `ImmutableString`…), so a script's author reads integer, number, signal, string; control
//! thread only.

/// The word for one type name as Rhai writes it.
pub fn type_word(name: &str) -> String {
    let name = name.trim().trim_start_matches("&mut ").trim();
    let word = match name {
        "i64" | "i32" | "u8" | "u16" | "u32" | "u64" | "usize" | "INT" | "int" => "integer",
        "f64" | "f32" | "FLOAT" | "float" => "number",
        "Signal" | "Sig" => "signal",
        "Voice" => "voice",
        "Pattern" | "Pat" => "pattern",
        "MidiNotes" => "MIDI notes",
        "string" | "String" | "&str" | "str" | "ImmutableString" | "char" => "string",
        "array" | "Array" | "Vec" | "Vec<Dynamic>" => "array",
        "blob" | "Blob" => "blob",
        "map" | "Map" => "map",
        "Fn" | "FnPtr" => "function",
        "bool" => "true or false",
        "()" | "" => "nothing",
        "Dynamic" => "any value",
        "range" | "range=" => "range",
        _ if name.contains("ImmutableString") || name.contains("&str") => "string",
        _ if name.contains("::") => {
            let last = name.rsplit("::").next().unwrap_or(name);
            return type_word(last.trim_end_matches('>'));
        }
        other => return other.to_lowercase(),
    };
    word.to_string()
}

/// `text` with every Rust or Rhai type name it holds written as a plain word. Only whole
/// words are replaced, so a name like `my_i64` stays.
pub fn plain_types(text: &str) -> String {
    // Rhai writes a string argument as these three alternatives.
    let text = text.replace("&str | ImmutableString | String", "string");
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if !word.is_empty() {
            let bare = word.trim_start_matches('&');
            if is_type_name(bare) {
                out.push_str(&type_word(bare));
            } else {
                out.push_str(word);
            }
            word.clear();
        }
    };
    for c in text.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' || (c == '&' && word.is_empty()) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn is_type_name(w: &str) -> bool {
    matches!(
        w,
        "i64"
            | "i32"
            | "f64"
            | "f32"
            | "INT"
            | "FLOAT"
            | "Signal"
            | "ImmutableString"
            | "String"
            | "str"
            | "FnPtr"
            | "Dynamic"
            | "Array"
            | "MidiNotes"
            | "bool"
    ) || w.starts_with("rhai::")
        || w.starts_with("waves::")
        || w.starts_with("alloc::")
        || w.starts_with("std::")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_read_as_words() {
        assert_eq!(
            plain_types("lpf (Signal, i64, f64, &str | ImmutableString | String)"),
            "lpf (signal, integer, number, string)"
        );
        assert_eq!(
            plain_types("Data type incorrect: rhai::types::fn_ptr::FnPtr (expecting f64)"),
            "Data type incorrect: function (expecting number)"
        );
        assert_eq!(plain_types("my_i64 is fine"), "my_i64 is fine");
        assert_eq!(type_word("&mut Signal"), "signal");
        assert_eq!(type_word("()"), "nothing");
    }
}
