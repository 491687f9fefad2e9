//! The edited script of the reload benchmark and of its coarse check in the tests: 200
//! lines whose numbers change with `v` and whose shape changes every 4th edit.

pub fn script(v: usize) -> String {
    let mut s = String::from("tempo(120);\nlet parts = [];\n");
    for i in 0..196 {
        let extra = if v.is_multiple_of(4) && i == 0 {
            ".lpf(3000)"
        } else {
            ""
        };
        s.push_str(&format!(
            "parts.push(sine({}.0 + {i}.0 * 3.0){extra} * perc(metro(0.5), 0.001, 0.1) * 0.004);\n",
            100 + v % 50
        ));
    }
    s.push_str("mix(parts)\n");
    s
}
