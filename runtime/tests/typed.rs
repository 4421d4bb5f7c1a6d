//! Typed outcomes: a program's outcomes decode as the choreography's output type at every
//! participant, each with its own view of located, shared and faceted values; an error stays
//! the participant's error; a view that is not the type is a codec error naming the
//! participant.

use rehearsal::{
    At, Choreo, ChoreoError, Choreography, Faceted, FamilySizes, LocalCluster, Outcomes,
    Participant, Program, Roles, families, roles,
};
use serde::{Deserialize, Serialize};

roles!(Coordinator);
families!(Worker);

/// The coordinator hands each worker its index squared; each keeps its facet, the
/// coordinator keeps the sum, everyone learns the count.
#[derive(Clone)]
struct Squares;

#[derive(Debug, Serialize, Deserialize)]
struct Squared {
    count: u32,
    sum: At<u32, Coordinator>,
    mine: Faceted<u32, Worker>,
}

impl Choreography for Squares {
    type Census = Roles![Coordinator, Worker];
    type Output = Squared;

    async fn run(self, ch: &Choreo<Self::Census>) -> Result<Squared, ChoreoError> {
        let mine = ch.locally_each(Worker, |w| w.index() * w.index()).await?;
        let all = ch.gather(Worker, Coordinator, mine.clone()).await?;
        let sum = ch
            .locally(Coordinator, |c| c.get(&all).iter().sum::<u32>())
            .await?;
        let count = ch
            .locally(Coordinator, |c| c.get(&all).len() as u32)
            .await?;
        let count = ch.broadcast(Coordinator, count).await?;
        Ok(Squared { count, sum, mine })
    }
}

#[tokio::test]
async fn each_participant_decodes_its_own_view() {
    let program = Program::new(Squares, &FamilySizes::new().with("Worker", 3)).unwrap();
    let outcomes = LocalCluster::new().run(&program).await;
    assert_eq!(outcomes, program.reference().await);
    let typed = outcomes.decode::<Squared>().unwrap();
    assert_eq!(typed.len(), 4);
    let names: Vec<String> = typed.iter().map(|(p, _)| p.to_string()).collect();
    assert_eq!(
        names,
        ["Coordinator", "Worker[0]", "Worker[1]", "Worker[2]"]
    );

    let at = |who: &str| typed.get(who).unwrap().as_ref().unwrap();
    assert_eq!(at("Coordinator").count, 3);
    assert_eq!(at("Coordinator").sum.view(), Some(&5));
    assert_eq!(at("Coordinator").mine.view().count(), 0);
    let w2 = at("Worker[2]");
    assert_eq!((w2.count, w2.sum.view()), (3, None));
    assert_eq!(w2.mine.view().collect::<Vec<_>>(), [(2, &4)]);
    assert!(typed.get("Worker[3]").is_none());
}

#[test]
fn errors_stay_errors_and_a_wrong_type_names_the_participant() {
    let crashed = ChoreoError::Census {
        detail: "no such role".into(),
    };
    let outcomes = Outcomes::new(vec![
        (Participant::role("Coordinator"), Ok("7".into())),
        (Participant::member("Worker", 0), Err(crashed.clone())),
    ]);
    let typed = outcomes.decode::<u32>().unwrap();
    assert_eq!(typed.get("Coordinator"), Some(&Ok(7)));
    assert_eq!(typed.get("Worker[0]"), Some(&Err(crashed)));
    assert!(!typed.all_ok());

    let wrong = outcomes.decode::<String>().unwrap_err();
    match wrong {
        ChoreoError::Codec { sender, detail, .. } => {
            assert_eq!(sender, "Coordinator");
            assert!(
                detail.contains("outcome 7 does not decode as alloc::string::String"),
                "{detail}"
            );
        }
        other => panic!("expected a codec error, got {other:?}"),
    }
}
