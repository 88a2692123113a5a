//! The command line's habits: every `--help` shows each default once, the completion scripts
//! pass their shell's syntax check and complete, the man pages render.

mod common;

use std::process::Command;

/// Every subcommand's path, e.g. ["bench", "gemm"], from `--help`'s command lists.
fn subcommands(prefix: &[String]) -> Vec<Vec<String>> {
    let help = common::stdout_of(common::scratchnet().args(prefix).arg("--help"));
    let mut found = Vec::new();
    let mut in_commands = false;
    for line in help.lines() {
        if line.starts_with("Commands:") {
            in_commands = true;
            continue;
        }
        if in_commands {
            let Some(name) = line
                .strip_prefix("  ")
                .and_then(|l| l.split_whitespace().next())
            else {
                in_commands = false;
                continue;
            };
            if name != "help" && !line.starts_with("   ") {
                let mut path = prefix.to_vec();
                path.push(name.to_string());
                found.extend(subcommands(&path));
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn every_help_shows_each_default_once() {
    let all = subcommands(&[]);
    assert!(all.len() >= 15, "{all:?}");
    let mut checked = 0;
    for path in &all {
        let help = common::stdout_of(common::scratchnet().args(path).arg("--help"));
        // An option's block: its line and the indented lines under it, up to the next option.
        let mut blocks: Vec<String> = Vec::new();
        for line in help.lines() {
            if line.trim_start().starts_with('-') && line.starts_with("  ") {
                blocks.push(line.to_string());
            } else if let Some(b) = blocks.last_mut() {
                b.push(' ');
                b.push_str(line.trim());
            }
        }
        for b in &blocks {
            assert!(
                b.matches("[default:").count() <= 1,
                "scratchnet {} --help shows a default twice: {b}",
                path.join(" ")
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} options read");
}

fn have(shell: &str) -> bool {
    Command::new(shell)
        .arg("-c")
        .arg("true")
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_completion_scripts_parse_and_bash_completes_tr_to_train() {
    let dir = common::temp_dir("completions");
    for (shell, check) in [
        ("bash", vec!["-n"]),
        ("zsh", vec!["-n"]),
        ("fish", vec!["--no-execute"]),
    ] {
        let script = common::stdout_of(common::scratchnet().args(["completions", shell]));
        assert!(script.contains("scratchnet"), "{shell}");
        let file = dir.join(format!("scratchnet.{shell}"));
        std::fs::write(&file, &script).unwrap();
        if !have(shell) {
            eprintln!("note: {shell} is not installed; its script was generated, not checked");
            assert_ne!(shell, "bash", "bash is on every machine this runs on");
            continue;
        }
        let out = Command::new(shell)
            .args(&check)
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{shell} rejects its script: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for shell in ["powershell", "elvish"] {
        let script = common::stdout_of(common::scratchnet().args(["completions", shell]));
        assert!(script.contains("scratchnet"), "{shell}");
    }
    // What `source <(scratchnet completions bash)` then `scratchnet tr<TAB>` does.
    let out = Command::new("bash")
        .arg("-c")
        .arg(
            "source \"$1\"; COMP_WORDS=(scratchnet tr); COMP_CWORD=1; COMP_LINE='scratchnet tr'; \
             COMP_POINT=${#COMP_LINE}; _scratchnet scratchnet tr scratchnet; \
             printf '%s\\n' \"${COMPREPLY[@]}\"",
        )
        .arg("completion")
        .arg(dir.join("scratchnet.bash"))
        .output()
        .unwrap();
    let replies = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        replies.trim(),
        "train",
        "{replies} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And a flag of train's.
    let out = Command::new("bash")
        .arg("-c")
        .arg(
            "source \"$1\"; COMP_WORDS=(scratchnet train --optim); COMP_CWORD=2; \
             _scratchnet scratchnet --optim train; printf '%s\\n' \"${COMPREPLY[@]}\"",
        )
        .arg("completion")
        .arg(dir.join("scratchnet.bash"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "--optimizer");
    let out = common::scratchnet()
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a usage error, as clap reports them"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value 'tcsh'"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn man_pages_render_for_the_command_and_each_subcommand() {
    let top = common::stdout_of(common::scratchnet().arg("man"));
    assert!(
        top.starts_with(".ie") || top.contains(".TH scratchnet"),
        "{}",
        &top[..200]
    );
    assert!(top.contains("train"));
    let train = common::stdout_of(common::scratchnet().args(["man", "train"]));
    assert!(train.contains(".TH scratchnet-train"), "{}", &train[..300]);
    assert!(train.contains("optimizer"));
    common::assert_one_line_error(&["man", "tran"], "no subcommand 'tran'");
}
