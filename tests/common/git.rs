//! Drive the real `git` CLI to build upstream repositories and to check mirrors.
//! Every command runs with an empty global/system config so results are reproducible.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Run git with `args` in `dir`; panic with git's stderr if it fails or git is missing.
pub fn git(dir: &Path, args: &[&str]) -> String {
    run_git(dir, args, &[], None)
}

/// [`git`] with extra environment variables.
pub fn git_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    run_git(dir, args, env, None)
}

/// [`git`] with `input` on its stdin (e.g. `update-ref --stdin`).
pub fn git_with_input(dir: &Path, args: &[&str], input: &str) -> String {
    run_git(dir, args, &[], Some(input))
}

/// The one way the tests run git: an empty global and system config, fixed identities, never
/// a prompt.
fn run_git(dir: &Path, args: &[&str], env: &[(&str, &str)], input: Option<&str>) -> String {
    let mut child = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.org")
        .env("GIT_COMMITTER_NAME", "Test Committer")
        .env("GIT_COMMITTER_EMAIL", "committer@example.org")
        .env("GIT_TERMINAL_PROMPT", "0")
        .envs(env.iter().copied())
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `git` (is git installed and on PATH?): {e}"));
    if let Some(input) = input {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "git {args:?} in {} failed:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A bare repository (what the server serves) plus a working clone used to push to it.
pub struct Upstream {
    pub bare: PathBuf,
    pub work: PathBuf,
}

impl Upstream {
    /// Create `bare` with one commit on `main`; `scratch` holds the working clone.
    pub fn create(bare: &Path, scratch: &Path) -> Self {
        std::fs::create_dir_all(bare.parent().unwrap()).unwrap();
        git(
            bare.parent().unwrap(),
            &["init", "--bare", "-b", "main", bare.to_str().unwrap()],
        );
        let work = scratch.join(format!(
            "work-{}",
            bare.file_name().unwrap().to_string_lossy()
        ));
        git(scratch, &["init", "-b", "main", work.to_str().unwrap()]);
        git(&work, &["remote", "add", "origin", bare.to_str().unwrap()]);
        let upstream = Upstream {
            bare: bare.to_path_buf(),
            work,
        };
        upstream.commit("README.md", "hello\n");
        upstream.push(&["main"]);
        upstream
    }

    /// Commit `content` as `file` on the current branch; returns the commit id.
    pub fn commit(&self, file: &str, content: &str) -> String {
        std::fs::write(self.work.join(file), content).unwrap();
        git(&self.work, &["add", file]);
        git(
            &self.work,
            &["commit", "-q", "-m", &format!("change {file}")],
        );
        git(&self.work, &["rev-parse", "HEAD"])
    }

    pub fn checkout_new_branch(&self, branch: &str) {
        git(&self.work, &["checkout", "-q", "-b", branch]);
    }

    pub fn checkout(&self, branch: &str) {
        git(&self.work, &["checkout", "-q", branch]);
    }

    pub fn push(&self, refspecs: &[&str]) {
        let mut args = vec!["push", "-q", "origin"];
        args.extend_from_slice(refspecs);
        git(&self.work, &args);
    }

    pub fn force_push(&self, refspecs: &[&str]) {
        let mut args = vec!["push", "-q", "--force", "origin"];
        args.extend_from_slice(refspecs);
        git(&self.work, &args);
    }

    pub fn annotated_tag(&self, name: &str) {
        git(
            &self.work,
            &["tag", "-a", name, "-m", &format!("release {name}")],
        );
    }

    pub fn lightweight_tag(&self, name: &str) {
        git(&self.work, &["tag", name]);
    }

    /// Rewrite the current branch: drop its last commit and add a different one.
    pub fn rewrite_last_commit(&self, file: &str, content: &str) -> String {
        git(&self.work, &["reset", "-q", "--hard", "HEAD~1"]);
        self.commit(file, content)
    }
}

/// `refs/*` → object id as the server advertises them (no `HEAD`, no peeled `^{}` lines).
pub fn ls_remote(url_or_path: &str) -> BTreeMap<String, String> {
    let out = git(Path::new("/"), &["ls-remote", url_or_path]);
    out.lines()
        .filter_map(|line| line.split_once('\t'))
        .filter(|(_, name)| name.starts_with("refs/") && !name.ends_with("^{}"))
        .map(|(id, name)| (name.to_string(), id.to_string()))
        .collect()
}

/// `refs/*` → object id held by a local repository.
pub fn local_refs(git_dir: &Path) -> BTreeMap<String, String> {
    git(
        git_dir,
        &["for-each-ref", "--format=%(refname) %(objectname)"],
    )
    .lines()
    .filter_map(|line| line.split_once(' '))
    .map(|(name, id)| (name.to_string(), id.to_string()))
    .collect()
}

/// `git fsck --full --strict` must pass.
pub fn assert_fsck_clean(git_dir: &Path) {
    git(git_dir, &["fsck", "--full", "--strict", "--no-progress"]);
}

/// Put `bytes` of incompressible data into `file` (so a pack is large and slow to send).
pub fn write_random_file(path: &Path, bytes: usize) {
    use std::io::Read;
    let mut data = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut data)
        .unwrap();
    std::fs::write(path, data).unwrap();
}

/// No file under `root` holds `secret` (a token must never be written into a mirror, a volume
/// or a repository a push created).
pub fn assert_no_file_holds(root: &Path, secret: &str) {
    for file in all_files(root) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "a secret written to {}",
            file.display()
        );
    }
}

/// Every file under `root`, for checks that must look at the whole tree.
pub fn all_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}
