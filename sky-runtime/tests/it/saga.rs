//! omicron-style: fail every provider step of a multi-node launch in turn; nothing leaks.

use sky_core::error::ErrorKind;
use sky_core::fake::{FakeCloud, Fault, Op};

use crate::common::*;

#[tokio::test]
async fn a_failure_at_every_step_leaks_nothing() {
    let steps = [
        Op::Bootstrap,
        Op::RunInstances,
        Op::WaitInstances,
        Op::QueryInstances,
    ];
    let kinds = [
        ErrorKind::Capacity,
        ErrorKind::Quota,
        ErrorKind::Transient,
        ErrorKind::InvalidRequest,
        ErrorKind::Unexpected,
    ];
    for op in steps {
        for kind in kinds {
            for partial in [None, Some(1)] {
                if partial.is_some() && op != Op::RunInstances {
                    continue;
                }
                let mut fault = Fault::on(op).kind(kind).times(1);
                if let Some(k) = partial {
                    fault = fault.after_nodes(k);
                }
                let fake = FakeCloud::builder().fault(fault).build();
                let b = broker(&fake);
                let res = b.provision(&cpu_task(3), "saga", &opts()).await;
                let ctx = format!("{op:?} {kind:?} partial={partial:?}: {res:?}");
                // Whatever happened, every live instance is owned by the state store.
                assert_eq!(live_ids(&fake), owned_ids(&b), "{ctx}");
                match res {
                    Ok(c) => assert_eq!(c.nodes.len(), 3, "{ctx}"),
                    Err(e) => assert!(e.history().is_some_and(|h| !h.is_empty()), "{ctx}"),
                }
                if b.cluster("saga").is_ok() {
                    b.down("saga").await.unwrap();
                } else {
                    // A failed launch removed its row: nothing it made may be left.
                    assert!(fake.live_groups().is_empty(), "{ctx}");
                }
                assert!(fake.live_instances().is_empty(), "{ctx}");
                assert!(
                    fake.live_groups().is_empty(),
                    "{ctx}: {:?}",
                    fake.live_groups()
                );
            }
        }
    }
}
