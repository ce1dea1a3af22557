//! Output order: kustomize's legacy order (by kind, then id), or input order ("fifo").

use crate::Error;
use crate::resid::{Gvk, ResId, or_placeholder};
use crate::resource::ResMap;
use crate::types::SortOptions;

use weir_object::order::{LEGACY_FIRST as DEFAULT_FIRST, LEGACY_LAST as DEFAULT_LAST};

fn gvk_key(g: &Gvk) -> String {
    g.stable_sort_key()
}

fn id_key(id: &ResId) -> String {
    format!(
        "{}|{}|{}",
        gvk_key(&id.gvk),
        or_placeholder(&id.namespace, "~X"),
        or_placeholder(&id.name, "~N")
    )
}

/// Sorts in kustomize's legacy order with the given first and last kinds.
pub(crate) fn legacy(resources: &mut ResMap, first: &[String], last: &[String]) {
    let rank = |kind: &str| weir_object::order::kind_rank(kind, first, last);
    // Ids are computed once per resource, not per comparison.
    let mut keyed: Vec<(i64, ResId, crate::resource::Resource)> =
        std::mem::take(&mut resources.list)
            .into_iter()
            .map(|r| {
                let id = r.cur_id();
                (rank(&id.gvk.kind), id, r)
            })
            .collect();
    keyed.sort_by(|(ra, ia, _), (rb, ib, _)| {
        if ia.gvk != ib.gvk {
            if ra != rb {
                return ra.cmp(rb);
            }
            let both_ns = ia.gvk.kind == "Namespace" && ib.gvk.kind == "Namespace";
            if both_ns && (ia.gvk.group.is_empty() || ib.gvk.group.is_empty()) {
                return gvk_key(&ib.gvk).cmp(&gvk_key(&ia.gvk));
            }
            return gvk_key(&ia.gvk).cmp(&gvk_key(&ib.gvk));
        }
        id_key(ia).cmp(&id_key(ib))
    });
    resources.list = keyed.into_iter().map(|(_, _, r)| r).collect();
}

/// Applies `sortOptions`, or the CLI's reorder choice when the kustomization has none.
pub(crate) fn apply(
    resources: &mut ResMap,
    options: Option<&SortOptions>,
    legacy_default: bool,
) -> Result<(), Error> {
    let defaults = || {
        (
            DEFAULT_FIRST
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<Vec<_>>(),
            DEFAULT_LAST
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<Vec<_>>(),
        )
    };
    match options {
        Some(o) => match o.order.as_str() {
            "legacy" => {
                let (first, last) = match &o.legacy_sort_options {
                    Some(l) => (l.order_first.clone(), l.order_last.clone()),
                    None => defaults(),
                };
                legacy(resources, &first, &last);
                Ok(())
            }
            "fifo" if o.legacy_sort_options.is_some() => Err(Error::Build {
                context: "sortOptions".into(),
                message: "the field 'sortOptions.legacySortOptions' is set but the selected sort order is 'fifo', not 'legacy'".into(),
            }),
            "fifo" => Ok(()),
            other => Err(Error::Build {
                context: "sortOptions".into(),
                message: format!("the field 'sortOptions.order' must be one of [fifo, legacy], not '{other}'"),
            }),
        },
        None if legacy_default => {
            let (first, last) = defaults();
            legacy(resources, &first, &last);
            Ok(())
        }
        None => Ok(()),
    }
}
