//! Server-side file paths for `COPY ... FROM/TO 'file'`.
//!
//! SQL may only read and write files inside one configured directory
//! (`import_dir` / `--import-dir`); without it, server-side files are off
//! (42501). Paths are relative to that directory or absolute inside it; a
//! `..` component is refused outright, and symlinks are resolved before the
//! containment check, so neither can reach a file outside the directory.

use std::path::{Component, Path, PathBuf};

use crate::error::{Result, SqlError, StatusCode};

fn denied(message: impl Into<String>) -> SqlError {
    SqlError::new(StatusCode::PermissionDenied, message)
}

fn root(dir: Option<&Path>) -> Result<PathBuf> {
    let Some(dir) = dir else {
        return Err(denied(
            "COPY to or from a server-side file is disabled: start lynxstore with --import-dir DIR \
             (import_dir in the configuration file) to allow files in that directory, \
             or use COPY FROM STDIN / TO STDOUT (psql \\copy)",
        ));
    };
    dir.canonicalize().map_err(|e| {
        SqlError::new(
            StatusCode::Unavailable,
            format!("import directory \"{}\": {e}", dir.display()),
        )
    })
}

/// The requested path joined onto the root, refusing `..`.
fn joined(root: &Path, requested: &str) -> Result<PathBuf> {
    let p = Path::new(requested);
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(denied(format!(
            "path \"{requested}\" must not contain \"..\""
        )));
    }
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        root.join(p)
    })
}

fn outside(requested: &str, root: &Path) -> SqlError {
    denied(format!(
        "path \"{requested}\" is outside the import directory \"{}\"",
        root.display()
    ))
}

/// A file to read, inside the import directory.
pub fn resolve_read(dir: Option<&Path>, requested: &str) -> Result<PathBuf> {
    let root = root(dir)?;
    let path = joined(&root, requested)?;
    let real = path.canonicalize().map_err(|e| {
        SqlError::new(
            StatusCode::Unavailable,
            format!("could not open file \"{requested}\" for reading: {e}"),
        )
        .with_sqlstate(if e.kind() == std::io::ErrorKind::NotFound {
            "58P01"
        } else {
            "58030"
        })
    })?;
    if !real.starts_with(&root) {
        return Err(outside(requested, &root));
    }
    Ok(real)
}

/// A file to create or replace, inside the import directory. The parent
/// directory must exist; an existing symlink at the path is refused.
pub fn resolve_write(dir: Option<&Path>, requested: &str) -> Result<PathBuf> {
    let root = root(dir)?;
    let path = joined(&root, requested)?;
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(denied(format!("\"{requested}\" is not a file name")));
    };
    let parent = parent.canonicalize().map_err(|e| {
        SqlError::new(
            StatusCode::Unavailable,
            format!("could not open file \"{requested}\" for writing: {e}"),
        )
        .with_sqlstate("58P01")
    })?;
    if !parent.starts_with(&root) {
        return Err(outside(requested, &root));
    }
    let real = parent.join(name);
    if let Ok(meta) = std::fs::symlink_metadata(&real) {
        if meta.file_type().is_symlink() {
            return Err(denied(format!(
                "\"{requested}\" is a symbolic link; COPY TO does not follow links"
            )));
        }
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a.csv"), "x").unwrap();
        let outside_dir = tempfile::tempdir().unwrap();
        std::fs::write(outside_dir.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(outside_dir.path().join("secret"), root.join("link")).unwrap();

        let e = resolve_read(None, "a.csv").unwrap_err();
        assert_eq!(e.status, StatusCode::PermissionDenied);
        assert!(e.message.contains("--import-dir"), "{}", e.message);

        let ok = resolve_read(Some(root), "a.csv").unwrap();
        assert_eq!(ok, root.canonicalize().unwrap().join("a.csv"));
        let abs = root.join("a.csv");
        assert!(resolve_read(Some(root), abs.to_str().unwrap()).is_ok());

        for bad in ["../a.csv", "sub/../../etc/passwd", "link", "/etc/passwd"] {
            let e = resolve_read(Some(root), bad).unwrap_err();
            assert_eq!(
                e.status,
                StatusCode::PermissionDenied,
                "{bad}: {}",
                e.message
            );
        }
        assert_eq!(
            resolve_read(Some(root), "missing.csv")
                .unwrap_err()
                .sqlstate,
            Some("58P01")
        );

        assert!(resolve_write(Some(root), "out.parquet").is_ok());
        for bad in ["../out", "link", "/tmp/out.parquet"] {
            let e = resolve_write(Some(root), bad).unwrap_err();
            assert_eq!(
                e.status,
                StatusCode::PermissionDenied,
                "{bad}: {}",
                e.message
            );
        }
    }
}
