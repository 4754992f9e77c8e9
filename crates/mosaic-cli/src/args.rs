//! Command-line parsing: `mosaic <command> [--option value]…`.

use std::collections::BTreeMap;
use std::str::FromStr;

/// The options given to a command, consumed as the command reads them.
pub struct Options {
    command: &'static str,
    values: BTreeMap<String, String>,
}

impl Options {
    /// Parses `--name value` pairs (a `--name=value` form too) and the switches `flags`
    /// (`--name` alone) for `command`.
    ///
    /// # Errors
    /// A value without an option, an option without a value, or an option given twice.
    pub fn parse(command: &'static str, args: &[String], flags: &[&str]) -> Result<Self, String> {
        let mut values = BTreeMap::new();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let name = arg.strip_prefix("--").ok_or_else(|| {
                format!("{command}: unexpected argument `{arg}` (options look like --epochs 30)")
            })?;
            let (name, value) = match name.split_once('=') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None if flags.contains(&name) => (name.to_string(), "true".to_string()),
                None => (
                    name.to_string(),
                    it.next()
                        .ok_or_else(|| format!("{command}: --{name} needs a value"))?
                        .clone(),
                ),
            };
            if values.insert(name.clone(), value).is_some() {
                return Err(format!("{command}: --{name} is given twice"));
            }
        }
        Ok(Options { command, values })
    }

    /// The string value of `--name`.
    pub fn text(&mut self, name: &str) -> Option<String> {
        self.values.remove(name)
    }

    /// Whether the switch `--name` was given.
    ///
    /// # Errors
    /// A value other than `true` or `false` (`--force=yes`).
    pub fn flag(&mut self, name: &str) -> Result<bool, String> {
        self.parsed(name, false, "true or false (or nothing)")
    }

    /// `--name` parsed, or `default`.
    ///
    /// # Errors
    /// A value that does not parse, naming the option and the expected kind.
    pub fn parsed<T: FromStr>(&mut self, name: &str, default: T, kind: &str) -> Result<T, String> {
        match self.values.remove(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("{}: --{name}: `{v}` is not {kind}", self.command)),
        }
    }

    /// Fails on options the command did not read.
    ///
    /// # Errors
    /// The first unknown option.
    pub fn finish(self) -> Result<(), String> {
        match self.values.keys().next() {
            Some(name) => Err(format!(
                "{}: unknown option --{name} (see `mosaic help`)",
                self.command
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_values_and_reports_mistakes() {
        let mut o = Options::parse(
            "train",
            &args(&["--epochs", "5", "--force", "--lr=0.01"]),
            &["force"],
        )
        .unwrap();
        assert!(o.flag("force").unwrap());
        assert!(!o.flag("resume").unwrap());
        assert_eq!(o.parsed("epochs", 1usize, "a whole number").unwrap(), 5);
        assert_eq!(o.parsed("lr", 0.1f64, "a number").unwrap(), 0.01);
        assert_eq!(o.parsed("seed", 9u64, "a whole number").unwrap(), 9);
        o.finish().unwrap();

        let bad = |list: &[&str]| Options::parse("train", &args(list), &[]).err().unwrap();
        assert_eq!(
            bad(&["epochs"]),
            "train: unexpected argument `epochs` (options look like --epochs 30)"
        );
        assert_eq!(bad(&["--epochs"]), "train: --epochs needs a value");
        assert_eq!(bad(&["--lr", "1", "--lr", "2"]), "train: --lr is given twice");
        let mut o = Options::parse("train", &args(&["--epochs", "x", "--colour", "red"]), &[]).unwrap();
        assert_eq!(
            o.parsed("epochs", 1usize, "a whole number").unwrap_err(),
            "train: --epochs: `x` is not a whole number"
        );
        assert_eq!(
            o.finish().unwrap_err(),
            "train: unknown option --colour (see `mosaic help`)"
        );
    }
}
