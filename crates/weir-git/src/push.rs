//! Committing files to a branch and pushing the commit: how bootstrap writes its manifests
//! into the repository, without a working tree and without the `git` command.

use std::path::Path;
use std::time::Duration;

use git2::build::TreeUpdateBuilder;
use git2::{FetchOptions, FileMode, PushOptions, Repository, Signature};

use crate::transport::Session;
use crate::{Credentials, Error, Reference};

/// The local ref the branch is fetched to before a commit is made on top of it.
const BASE: &str = "refs/weir/base";
/// The local ref pushed to the branch.
const OUTGOING: &str = "refs/weir/outgoing";
/// How many times a push rejected because the branch moved is retried, each time on a fresh
/// fetch (several clusters bootstrapping one repository at once).
const ATTEMPTS: u32 = 5;

/// A commit of some files onto a branch.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    /// Files to write, by path from the repository root.
    pub files: &'a [(String, Vec<u8>)],
    /// Paths (files or directories) to remove.
    pub remove: &'a [String],
    /// The commit message.
    pub message: &'a str,
    /// The author and committer name.
    pub author_name: &'a str,
    /// The author and committer e-mail.
    pub author_email: &'a str,
}

/// What [`commit_and_push`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The branch's head afterwards (40 hex), or `None` when the branch does not exist and
    /// there was nothing to commit.
    pub commit: Option<String>,
    /// Whether a new commit was pushed; `false` when the branch already had these files.
    pub changed: bool,
    /// For an `ssh://` URL without known_hosts: the server's host key as a known_hosts line,
    /// accepted on first use.
    pub known_hosts: Option<String>,
}

/// Fetches `branch` of `url` into the bare repository `work` (created if needed), commits
/// `change` on top of it (the first commit of an empty repository or a new branch), and pushes
/// it. Nothing is pushed when the files are already there. A push refused because the branch
/// moved meanwhile is retried on a fresh fetch, a few times.
///
/// For an `ssh://` URL whose credentials have no known_hosts, the server's host key is
/// accepted and returned in [`Pushed::known_hosts`] (trust on first use, as `flux bootstrap`
/// scans the key).
pub fn commit_and_push(
    url: &str,
    branch: &str,
    credentials: &Credentials,
    work: &Path,
    change: &Change<'_>,
) -> Result<Pushed, Error> {
    let git = |operation| crate::git_error(operation, url);
    let repo = open_or_init(work, url)?;
    let mut last_rejection = String::new();
    for attempt in 1..=ATTEMPTS {
        if attempt > 1 {
            std::thread::sleep(Duration::from_millis(200 * u64::from(attempt)));
        }
        let (base, learned) = fetch_branch(&repo, url, branch, credentials)?;
        let base_commit = match base {
            Some(oid) => Some(
                repo.find_commit(oid)
                    .map_err(git("reading the branch of"))?,
            ),
            None => None,
        };
        let base_tree = match &base_commit {
            Some(commit) => commit.tree().map_err(git("reading the tree of"))?,
            None => {
                let empty = repo
                    .treebuilder(None)
                    .and_then(|b| b.write())
                    .map_err(git("writing a tree for"))?;
                repo.find_tree(empty).map_err(git("writing a tree for"))?
            }
        };
        let mut update = TreeUpdateBuilder::new();
        for path in change.remove {
            if base_tree.get_path(Path::new(path)).is_ok() {
                update.remove(path.as_str());
            }
        }
        for (path, content) in change.files {
            let blob = repo.blob(content).map_err(git("writing a file for"))?;
            update.upsert(path.as_str(), blob, FileMode::Blob);
        }
        let tree_id = update
            .create_updated(&repo, &base_tree)
            .map_err(git("writing a tree for"))?;
        if tree_id == base_tree.id() {
            return Ok(Pushed {
                commit: base.map(|oid| oid.to_string()),
                changed: false,
                known_hosts: learned,
            });
        }
        let tree = repo.find_tree(tree_id).map_err(git("writing a tree for"))?;
        let signature = Signature::now(change.author_name, change.author_email)
            .map_err(git("signing a commit for"))?;
        let parents: Vec<&git2::Commit<'_>> = base_commit.iter().collect();
        let commit = repo
            .commit(
                None,
                &signature,
                &signature,
                change.message,
                &tree,
                &parents,
            )
            .map_err(git("committing for"))?;
        repo.reference(OUTGOING, commit, true, "weir push")
            .map_err(git("committing for"))?;
        match push(&repo, url, credentials, branch) {
            Ok(()) => {
                return Ok(Pushed {
                    commit: Some(commit.to_string()),
                    changed: true,
                    known_hosts: learned,
                });
            }
            Err(Rejected::Moved(why)) => last_rejection = why,
            Err(Rejected::Failed(err)) => return Err(err),
        }
    }
    Err(Error::Git {
        operation: "pushing to",
        url: url.to_owned(),
        message: format!(
            "branch '{branch}' kept moving: {ATTEMPTS} pushes were rejected ({last_rejection})"
        ),
    })
}

/// The bare repository `work`, created if needed.
fn open_or_init(work: &Path, url: &str) -> Result<Repository, Error> {
    if let Ok(repo) = Repository::open_bare(work) {
        return Ok(repo);
    }
    std::fs::create_dir_all(work).map_err(|source| Error::Io {
        path: work.display().to_string(),
        source,
    })?;
    Repository::init_bare(work).map_err(|err| Error::Git {
        operation: "creating a repository for",
        url: url.to_owned(),
        message: err.message().to_owned(),
    })
}

/// Fetches the whole history of `branch` (no depth: a pack pushed later must be computed
/// against commits the server has) to [`BASE`]; returns its head, `None` for an empty
/// repository or a missing branch, and the host key learned on first use.
fn fetch_branch(
    repo: &Repository,
    url: &str,
    branch: &str,
    credentials: &Credentials,
) -> Result<(Option<git2::Oid>, Option<String>), Error> {
    let session = Session::new(url, credentials).learning_host_key();
    if let Ok(mut old) = repo.find_reference(BASE) {
        let _ = old.delete();
    }
    let mut remote = repo.remote_anonymous(url).map_err(|err| Error::Git {
        operation: "reading the URL",
        url: url.to_owned(),
        message: err.message().to_owned(),
    })?;
    let mut options = FetchOptions::new();
    options.remote_callbacks(session.callbacks());
    let headers = session.headers();
    let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    options.custom_headers(&header_refs);
    options.download_tags(git2::AutotagOption::None);
    let refspec = format!("+refs/heads/{branch}:{BASE}");
    let base = match remote.fetch(&[refspec.as_str()], Some(&mut options), None) {
        Ok(()) => repo.refname_to_id(BASE).ok(),
        Err(err) => match session.classify(err, &Reference::Branch(branch.to_owned())) {
            // An empty repository, or a new branch.
            Error::NotFound { .. } => None,
            other => return Err(other),
        },
    };
    Ok((base, session.learned_host_key()))
}

/// What [`read_files`] found: the branch's head commit (`None` for an empty repository or a
/// missing branch) and each path's content (`None` when it is not a file there).
pub type Files = (Option<String>, Vec<Option<Vec<u8>>>);

/// The content of `paths` (files, from the repository root) at the head of `branch`, fetched
/// into the bare repository `work`: `None` for a path that is not a file there. Also the
/// head commit, `None` for an empty repository or a missing branch.
pub fn read_files(
    url: &str,
    branch: &str,
    credentials: &Credentials,
    work: &Path,
    paths: &[String],
) -> Result<Files, Error> {
    let git = |operation| crate::git_error(operation, url);
    let repo = open_or_init(work, url)?;
    let (base, _) = fetch_branch(&repo, url, branch, credentials)?;
    let Some(base) = base else {
        return Ok((None, vec![None; paths.len()]));
    };
    let tree = repo
        .find_commit(base)
        .and_then(|c| c.tree())
        .map_err(git("reading the branch of"))?;
    let contents = paths
        .iter()
        .map(|path| {
            let entry = tree.get_path(Path::new(path)).ok()?;
            let blob = entry.to_object(&repo).ok()?.into_blob().ok()?;
            Some(blob.content().to_vec())
        })
        .collect();
    Ok((Some(base.to_string()), contents))
}

/// Why a push did not land.
enum Rejected {
    /// The branch moved since the fetch: fetch and try again.
    Moved(String),
    /// Anything else.
    Failed(Error),
}

/// Pushes [`OUTGOING`] to `branch`, without force.
fn push(
    repo: &Repository,
    url: &str,
    credentials: &Credentials,
    branch: &str,
) -> Result<(), Rejected> {
    let session = Session::new(url, credentials).learning_host_key();
    let mut remote = repo.remote_anonymous(url).map_err(|err| {
        Rejected::Failed(Error::Git {
            operation: "reading the URL",
            url: url.to_owned(),
            message: err.message().to_owned(),
        })
    })?;
    let refused = std::cell::RefCell::new(None::<String>);
    let mut callbacks = session.callbacks();
    callbacks.push_update_reference(|_name, status| {
        if let Some(status) = status {
            *refused.borrow_mut() = Some(status.to_owned());
        }
        Ok(())
    });
    let mut options = PushOptions::new();
    options.remote_callbacks(callbacks);
    let headers = session.headers();
    let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    options.custom_headers(&header_refs);
    let refspec = format!("{OUTGOING}:refs/heads/{branch}");
    let result = remote.push(&[refspec.as_str()], Some(&mut options));
    drop(remote);
    drop(options);
    match result {
        Ok(()) => match refused.into_inner() {
            None => Ok(()),
            Some(why) if moved(&why) => Err(Rejected::Moved(why)),
            Some(why) => Err(Rejected::Failed(Error::Git {
                operation: "pushing to",
                url: url.to_owned(),
                message: format!("the server refused the push: {why}"),
            })),
        },
        Err(err) if moved(err.message()) => Err(Rejected::Moved(err.message().to_owned())),
        Err(err) => Err(Rejected::Failed(
            match session.classify(err, &Reference::Branch(branch.to_owned())) {
                Error::Git { url, message, .. } => Error::Git {
                    operation: "pushing to",
                    url,
                    message,
                },
                other => other,
            },
        )),
    }
}

/// Whether a push refusal says the branch moved (a fast-forward is no longer possible).
fn moved(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    // Also the server losing a race for the ref (two first pushes to an empty repository):
    // git's receive-pack then says "failed to update ref" or "cannot lock ref".
    [
        "non-fast-forward",
        "fast-forward",
        "fetch first",
        "not present locally",
        "stale info",
        "failed to update ref",
        "cannot lock ref",
        "failed to lock",
    ]
    .iter()
    .any(|m| message.contains(m))
}
