//! `pylock.toml` per PEP 751 (lock-version 1.0): the target wheels only, with URL, size, upload time
//! and hash, so any PEP 751 installer reproduces the image's environment.

use std::collections::BTreeMap;
use std::str::FromStr;

use pep508_rs::PackageName;
use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

use super::{LOCK_FORMAT_VERSION, Lock, LockedPackage};
use crate::index::DistFile;

/// Render the lock as PEP 751 TOML.
pub fn pylock_toml(lock: &Lock) -> String {
    let context = &lock.context;
    let mut doc = DocumentMut::new();
    doc["lock-version"] = toml_edit::value("1.0");
    let mut environments = Array::new();
    for target in &context.targets {
        environments.push(format!(
            "sys_platform == 'linux' and {} and python_version == '{}'",
            target.marker(),
            context.python
        ));
    }
    doc["environments"] = toml_edit::value(environments);
    doc["requires-python"] = toml_edit::value(format!("=={}.*", context.python));
    doc["created-by"] = toml_edit::value("fave-lock");

    let versions_per_name =
        lock.packages
            .iter()
            .fold(BTreeMap::<&PackageName, usize>::new(), |mut counts, p| {
                *counts.entry(&p.name).or_default() += 1;
                counts
            });
    let mut packages = ArrayOfTables::new();
    for package in &lock.packages {
        packages.push(package_table(lock, package, &versions_per_name));
    }
    doc["packages"] = Item::ArrayOfTables(packages);

    let mut tool = Table::new();
    let mut ours = Table::new();
    ours["image"] = toml_edit::value(context.image.as_str());
    ours["lock-format"] = toml_edit::value(i64::from(LOCK_FORMAT_VERSION));
    ours["python"] = toml_edit::value(context.python.to_string());
    let mut targets = Array::new();
    for target in &context.targets {
        let mut entry = InlineTable::new();
        entry.insert("oci", Value::from(target.oci.as_str()));
        entry.insert("platform", Value::from(target.platform.to_string()));
        targets.push(Value::InlineTable(entry));
    }
    ours["targets"] = toml_edit::value(targets);
    ours["index-url"] = toml_edit::value(context.index_url.as_str());
    ours["input-hash"] = toml_edit::value(context.input_hash.as_str());
    if !context.inputs.is_empty() {
        // `[tool.fave-lock.inputs]`, one line per part: a diff of the lock shows which input moved.
        let mut inputs = Table::new();
        for (name, hash) in &context.inputs {
            inputs[name.as_str()] = toml_edit::value(hash.as_str());
        }
        ours["inputs"] = Item::Table(inputs);
    }
    if let Some(cutoff) = context.exclude_newer {
        ours["exclude-newer"] = toml_edit::value(cutoff.to_string());
    }
    ours["command"] = toml_edit::value(context.command.as_str());
    tool.set_implicit(true);
    tool["fave-lock"] = Item::Table(ours);
    doc["tool"] = Item::Table(tool);
    doc.to_string()
}

fn package_table(
    lock: &Lock,
    package: &LockedPackage,
    versions_per_name: &BTreeMap<&PackageName, usize>,
) -> Table {
    let mut table = Table::new();
    table["name"] = toml_edit::value(package.name.to_string());
    table["version"] = toml_edit::value(package.version.to_string());
    if let Some(marker) = lock.marker(package) {
        table["marker"] = toml_edit::value(marker);
    }
    if let Some(requires_python) = &package.requires_python {
        table["requires-python"] = toml_edit::value(requires_python.as_str());
    }
    let mut dependencies = Array::new();
    for dependency in &package.dependencies {
        let mut entry = InlineTable::new();
        entry.insert("name", Value::from(dependency.to_string()));
        if versions_per_name.get(dependency).copied().unwrap_or(0) > 1 {
            // Several entries share this name: PEP 751 asks for enough to tell which one is meant.
            if let Some(version) = dependency_version(lock, package, dependency) {
                entry.insert("version", Value::from(version));
            }
        }
        dependencies.push(Value::InlineTable(entry));
    }
    if !dependencies.is_empty() {
        table["dependencies"] = toml_edit::value(dependencies);
    }
    table["index"] = toml_edit::value(lock.context.index_url.as_str());
    let (wheels, sdists): (Vec<&DistFile>, Vec<&DistFile>) = package
        .files
        .iter()
        .partition(|file| file.filename.ends_with(".whl"));
    if let Some(sdist) = sdists.first() {
        table["sdist"] = toml_edit::value(file_table(sdist));
    }
    if !wheels.is_empty() {
        let mut array = Array::new();
        for wheel in wheels {
            array.push(Value::InlineTable(file_table(wheel)));
        }
        array
            .iter_mut()
            .for_each(|value| value.decor_mut().set_prefix("\n    "));
        array.set_trailing("\n");
        array.set_trailing_comma(true);
        table["wheels"] = toml_edit::value(array);
    }
    table
}

/// The version of `dependency` that shares a target with `package`.
fn dependency_version(
    lock: &Lock,
    package: &LockedPackage,
    dependency: &PackageName,
) -> Option<String> {
    lock.packages
        .iter()
        .find(|other| &other.name == dependency && !other.targets.is_disjoint(&package.targets))
        .map(|other| other.version.to_string())
}

fn file_table(file: &DistFile) -> InlineTable {
    let mut table = InlineTable::new();
    table.insert("name", Value::from(file.filename.as_str()));
    table.insert("url", Value::from(file.url.as_str()));
    if let Some(size) = file.size.and_then(|size| i64::try_from(size).ok()) {
        table.insert("size", Value::from(size));
    }
    if let Some(uploaded) = file.upload_time
        && let Ok(datetime) = toml_edit::Datetime::from_str(&uploaded.to_string())
    {
        table.insert("upload-time", Value::from(datetime));
    }
    if let Some(sha256) = &file.sha256 {
        let mut hashes = InlineTable::new();
        hashes.insert("sha256", Value::from(sha256.as_str()));
        table.insert("hashes", Value::InlineTable(hashes));
    }
    table
}
