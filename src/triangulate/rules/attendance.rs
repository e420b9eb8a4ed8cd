//! `attendance`: school attendance over consecutive complete terms, against
//! dated thresholds, optionally improved on the terms before the case.
//!
//! In: the rule as written in a framework file. Out: its load-time problems,
//! its plain-English explanation and its decision on a case.

use super::prelude::*;
use super::Percent;

/// School attendance over consecutive terms for people in scope. Written
/// with the flat keys of [`RawAttendance`]; held typed.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(from = "RawAttendance", into = "RawAttendance")]
pub struct Attendance {
    pub terms: u32,
    /// May be empty when an improvement is required instead.
    pub thresholds: Vec<Threshold>,
    pub compare: Compare,
    pub possible: Possible,
    pub judged: Judged,
    /// Also require this many points of improvement over the same number
    /// of terms before the case started ...
    pub improvement_points: Option<f64>,
    /// ... or this percentage improvement (relative).
    pub improvement_percent: Option<f64>,
    /// Only children whose attendance over the same number of complete
    /// terms before the case started was below this percentage are in scope.
    pub baseline_below: Option<f64>,
    /// Also require the absence rate to fall by this percentage against the
    /// same number of terms before the case started.
    pub absence_reduction: Option<Percent>,
    pub anchor: Anchor,
    pub scope: Scope,
    pub quantifier: Quantifier,
    /// Key combinations the typed form cannot hold, reported at load.
    conflicts: Vec<&'static str>,
}

/// Which sessions count as possible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Possible {
    AllSessions,
    /// Authorised absence left out (Leicester's "excluding authorised
    /// absence"): `exclude_authorised`.
    LessAuthorised,
}

/// What is held against the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judged {
    /// The average over the terms (`average = true`, the default).
    Average,
    /// Every term on its own (`average = false`).
    EveryTerm,
}

impl From<RawAttendance> for Attendance {
    fn from(r: RawAttendance) -> Self {
        let mut conflicts = Vec::new();
        let absence_reduction = match (r.absence_reduction_percent, r.absence_reduction_setting) {
            (Some(_), true) => {
                conflicts.push(
                    "absence_reduction_percent and absence_reduction_setting cannot both be given",
                );
                Some(Percent::Setting)
            }
            (Some(p), false) => Some(Percent::Fixed(p)),
            (None, true) => Some(Percent::Setting),
            (None, false) => None,
        };
        Attendance {
            terms: r.terms,
            thresholds: r.thresholds,
            compare: r.compare,
            possible: if r.exclude_authorised {
                Possible::LessAuthorised
            } else {
                Possible::AllSessions
            },
            judged: if r.average {
                Judged::Average
            } else {
                Judged::EveryTerm
            },
            improvement_points: r.improvement_points,
            improvement_percent: r.improvement_percent,
            baseline_below: r.baseline_below,
            absence_reduction,
            anchor: r.anchor,
            scope: r.scope,
            quantifier: r.quantifier,
            conflicts,
        }
    }
}

impl From<Attendance> for RawAttendance {
    fn from(a: Attendance) -> Self {
        RawAttendance {
            terms: a.terms,
            thresholds: a.thresholds,
            compare: a.compare,
            exclude_authorised: a.possible == Possible::LessAuthorised,
            average: a.judged == Judged::Average,
            improvement_points: a.improvement_points,
            improvement_percent: a.improvement_percent,
            baseline_below: a.baseline_below,
            absence_reduction_percent: match a.absence_reduction {
                Some(Percent::Fixed(p)) => Some(p),
                _ => None,
            },
            absence_reduction_setting: a.absence_reduction == Some(Percent::Setting),
            anchor: a.anchor,
            scope: a.scope,
            quantifier: a.quantifier,
        }
    }
}

/// An attendance rule as written: the keys of `docs/frameworks.md`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawAttendance {
    pub terms: u32,
    /// May be empty when an improvement is required instead.
    #[serde(default)]
    pub thresholds: Vec<Threshold>,
    #[serde(default)]
    pub compare: Compare,
    /// Leave authorised absence out of the possible sessions
    /// (Leicester's "excluding authorised absence").
    #[serde(default)]
    pub exclude_authorised: bool,
    /// Judge the average over the terms (true) or every term (false).
    #[serde(default = "super::yes")]
    pub average: bool,
    /// Also require this many points of improvement over the same
    /// number of terms before the case started.
    #[serde(default)]
    pub improvement_points: Option<f64>,
    /// ... or this percentage improvement (relative).
    #[serde(default)]
    pub improvement_percent: Option<f64>,
    /// Only children whose attendance over the same number of complete
    /// terms before the case started was below this percentage are in
    /// scope (e.g. "very poor attendance" of under 50%); a child with no
    /// record for those terms is out of scope.
    #[serde(default)]
    pub baseline_below: Option<f64>,
    /// Also require the absence rate to fall by this percentage against
    /// the same number of terms before the case started ("significant
    /// improvement" read as a significant reduction in absence) ...
    #[serde(default)]
    pub absence_reduction_percent: Option<f64>,
    /// ... or by the framework's `settings.significant_reduction_percent`.
    #[serde(default)]
    pub absence_reduction_setting: bool,
    #[serde(default)]
    pub anchor: Anchor,
    #[serde(default = "super::school_age")]
    pub scope: Scope,
    #[serde(default)]
    pub quantifier: Quantifier,
}

impl RuleKind for Attendance {
    fn kinds(&self) -> Vec<EventKind> {
        vec![EventKind::Attendance]
    }

    fn scope(&self) -> Option<&Scope> {
        Some(&self.scope)
    }

    fn check(&self, c: &mut Checker) {
        let Attendance {
            terms,
            thresholds,
            baseline_below,
            improvement_points,
            improvement_percent,
            absence_reduction,
            scope,
            ..
        } = self;
        for m in &self.conflicts {
            c.bad((*m).into());
        }
        let improves = improvement_points.is_some()
            || improvement_percent.is_some()
            || absence_reduction.is_some();
        if *terms == 0 || (thresholds.is_empty() && !improves) {
            c.bad("attendance needs terms and at least one threshold (or an improvement)".into());
        }
        if *absence_reduction == Some(Percent::Setting)
            && c.fw.settings.significant_reduction_percent.is_none()
        {
            c.bad(
                "absence_reduction_setting needs [settings] significant_reduction_percent".into(),
            );
        }
        if matches!(absence_reduction, Some(Percent::Fixed(p)) if !(0.0..=100.0).contains(p)) {
            c.bad("absence_reduction_percent is a percentage".into());
        }
        if thresholds
            .iter()
            .map(|t| t.percent)
            .chain(*baseline_below)
            .any(|p| !(0.0..=100.0).contains(&p))
        {
            c.bad("attendance thresholds are percentages".into());
        }
        c.scope(scope);
    }

    fn explain(&self, fw: &Framework, depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        let Attendance {
            terms,
            thresholds,
            compare,
            possible,
            judged,
            improvement_points,
            improvement_percent,
            baseline_below,
            absence_reduction,
            anchor,
            scope,
            quantifier,
            ..
        } = self;
        let _ = {
            let th: Vec<String> = thresholds
                .iter()
                .map(|t| match t.from {
                    Some(d) => format!("{}% from {d}", t.percent),
                    None => format!("{}%", t.percent),
                })
                .collect();
            let cmp = match compare {
                Compare::Above => "above",
                Compare::AtLeast => "at least",
                Compare::Below => "below",
            };
            let who = match baseline_below {
                Some(b) => format!(
                    "{} whose attendance over the {terms} complete terms before the case started was below {b}%",
                    scope_text(scope)
                ),
                None => scope_text(scope),
            };
            let level = if th.is_empty() {
                String::new()
            } else {
                format!(" {cmp} {}", th.join(", then "))
            };
            let mut s = format!(
                "{pad}{} {who} has {} attendance{level} over the last {terms} consecutive complete school terms {} (education data{})",
                quant(*quantifier),
                if *judged == Judged::Average { "average" } else { "every term's" },
                anchor_text(*anchor, Direction::Before),
                if *possible == Possible::LessAuthorised { "; authorised absence left out of the possible sessions" } else { "" }
            );
            let joint = if th.is_empty() { "" } else { " and" };
            if let Some(p) = improvement_points {
                let _ = write!(s, ",{joint} improved by at least {p} percentage points on the same number of terms before the case started");
            }
            if let Some(p) = improvement_percent {
                let _ = write!(s, ",{joint} improved by at least {p}% on the same number of terms before the case started");
            }
            if let Some(Percent::Fixed(p)) = absence_reduction {
                let _ = write!(s, ", and an absence rate at least {p}% lower than over the same number of terms before the case started");
            }
            if *absence_reduction == Some(Percent::Setting) {
                let p = fw.settings.significant_reduction_percent.unwrap_or(0.0);
                let _ = write!(s, ", and an absence rate at least {p}% lower (the council's setting for a significant reduction) than over the same number of terms before the case started");
            }
            writeln!(out, "{s}.")
        };
    }

    fn decide(&self, ctx: &Ctx) -> Decision {
        decide(ctx, self)
    }
}

pub(super) fn decide(ctx: &Ctx, rule: &Attendance) -> Decision {
    let Attendance {
        terms,
        thresholds,
        compare,
        possible,
        baseline_below,
        absence_reduction,
        anchor,
        scope,
        quantifier,
        ..
    } = rule;
    let absence_cut = match absence_reduction {
        Some(Percent::Setting) => ctx.fw.settings.significant_reduction_percent,
        Some(Percent::Fixed(p)) => Some(*p),
        None => None,
    };
    let events = [EventKind::Attendance];
    let Ok(at) = ctx.anchor(*anchor) else {
        return no_window(ctx, &events);
    };
    let mut ts = terms_ending_by(at, *terms);
    if let Some(summer) = delivered_summer(ctx, at, scope) {
        ts = terms_ending_by(summer.from.pred_opt().unwrap_or(summer.from), *terms - 1);
        ts.push(summer);
    }
    let w = Period {
        from: ts[0].from,
        to: ts[ts.len() - 1].to,
    };
    let threshold = thresholds
        .iter()
        .filter(|t| t.from.is_none_or(|f| f <= ctx.claim_date))
        .max_by_key(|t| t.from)
        .map_or(0.0, |t| t.percent);
    let members = ctx.scope(scope, w.to);
    let rate =
        |p: PersonId, terms: &[Period]| rate(ctx, p, terms, *possible == Possible::LessAuthorised);
    let meets = |r: f64| match compare {
        _ if thresholds.is_empty() => true,
        Compare::Above => r > threshold,
        Compare::AtLeast => r >= threshold,
        Compare::Below => r < threshold,
    };
    let complete = ctx.missing(SourceKind::Education, w).is_empty();
    let base_terms = terms_ending_by(
        ctx.data
            .case
            .start
            .pred_opt()
            .unwrap_or(ctx.data.case.start),
        *terms,
    );
    let mut notes = Vec::new();
    let mut parts = Vec::new();
    // With `baseline_below`, only those who started below it are in scope;
    // someone with no baseline record is out of scope once the baseline
    // terms are covered, and undecided until then.
    let members: Vec<&Member> = match baseline_below {
        None => members,
        Some(below) => below_at_start(
            ctx,
            members,
            &base_terms,
            *below,
            &rate,
            &mut notes,
            &mut parts,
        ),
    };
    for m in &members {
        let part = judge_member(
            rule,
            m.person,
            &ts,
            &base_terms,
            absence_cut,
            &rate,
            &meets,
            &mut notes,
        );
        parts.push(part);
    }
    let verdict = combine(&parts, *quantifier);
    let finding = if members.is_empty() && notes.is_empty() {
        "no one in the family is in this rule's scope".to_string()
    } else {
        format!(
            "attendance over {} terms {}{} ({}): {}",
            terms,
            w,
            if complete {
                ""
            } else {
                ", not fully covered by education deliveries"
            },
            if thresholds.is_empty() {
                "improvement only".to_string()
            } else {
                format!("threshold {threshold}%")
            },
            notes.join("; ")
        )
    };
    let mut d = finish(verdict, &events, w, ctx, &members, None, vec![], finding);
    d.not_applicable = parts.is_empty();
    d
}

/// The summer term in progress on `at`, up to `at`, when its data is
/// delivered: the school year ends in July but the calendar's summer term
/// runs to 31 July, so a claim made after the schools break up would
/// otherwise judge the three terms before it, months old. Delivered means
/// education coverage from the term's first day to `at` and an attendance
/// record for the term for someone in scope (rows name their term); a
/// member in scope without one is then undecided, as for any term.
fn delivered_summer(ctx: &Ctx, at: NaiveDate, scope: &Scope) -> Option<Period> {
    let start = crate::records::terms::term_of(at);
    let end = crate::records::terms::term_end(start);
    // Summer is the term starting in April; on its last day it is complete.
    if chrono::Datelike::month(&start) != 4 || at >= end {
        return None;
    }
    let term = Period {
        from: start,
        to: at,
    };
    if !ctx.missing(SourceKind::Education, term).is_empty() {
        return None;
    }
    let delivered = ctx.scope(scope, at).iter().any(|m| {
        ctx.data
            .events_of(m.person)
            .iter()
            .any(|e| e.kind == EventKind::Attendance && e.start == start)
    });
    delivered.then_some(term)
}

impl Attendance {
    /// Whether attendance `avg` now is improvement enough on `base` before
    /// the case (every improvement the rule asks for).
    fn improved(&self, absence_cut: Option<f64>, base: f64, avg: f64) -> bool {
        let mut improved = true;
        if let Some(pts) = self.improvement_points {
            improved &= avg - base >= pts;
        }
        if let Some(pc) = self.improvement_percent {
            improved &= base > 0.0 && (avg - base) / base * 100.0 >= pc;
        }
        if let Some(pc) = absence_cut {
            // absence rates; a tolerance keeps 10.0% vs
            // 20% * 0.5 from failing on rounding
            improved &= 100.0 - avg <= (100.0 - base) * (1.0 - pc / 100.0) + 1e-9;
        }
        improved
    }
}

/// Attendance over some terms: the average and each term's, in percent, or
/// the index of the first term with no record.
type Rates = Result<(f64, Vec<f64>), usize>;

/// Attendance over `terms`, from the case's records.
fn rate(ctx: &Ctx, p: PersonId, terms: &[Period], exclude_authorised: bool) -> Rates {
    let (mut att, mut poss) = (0i64, 0i64);
    let mut per_term = Vec::new();
    for (i, t) in terms.iter().enumerate() {
        let rows: Vec<_> = ctx
            .data
            .events_of(p)
            .iter()
            .filter(|e| e.kind == EventKind::Attendance && e.start == t.from)
            .collect();
        if rows.is_empty() {
            return Err(i);
        }
        let (mut a, mut ps) = (0i64, 0i64);
        for e in rows {
            let s = e.measure.sessions();
            a += i64::from(s.attended);
            ps += i64::from(s.possible)
                - if exclude_authorised {
                    i64::from(s.authorised)
                } else {
                    0
                };
        }
        per_term.push(if ps > 0 {
            100.0 * a as f64 / ps as f64
        } else {
            100.0
        });
        att += a;
        poss += ps;
    }
    Ok((
        if poss > 0 {
            100.0 * att as f64 / poss as f64
        } else {
            100.0
        },
        per_term,
    ))
}

/// One member's part: their attendance over the terms `ts` against the
/// threshold and, where the rule asks for one, their improvement on the
/// same number of terms before the case (`base_terms`). Undecided when a
/// term has no record, or when the threshold is met but there is no
/// baseline to judge the improvement against.
#[allow(clippy::too_many_arguments)]
fn judge_member(
    rule: &Attendance,
    person: PersonId,
    ts: &[Period],
    base_terms: &[Period],
    absence_cut: Option<f64>,
    rate: &dyn Fn(PersonId, &[Period]) -> Rates,
    meets: &dyn Fn(f64) -> bool,
    notes: &mut Vec<String>,
) -> Part {
    let (avg, per_term) = match rate(person, ts) {
        Err(i) => {
            notes.push(format!(
                "{} has no attendance record for the term from {}",
                pseudonym(person),
                ts[i].from
            ));
            return Part::Unknown;
        }
        Ok(r) => r,
    };
    let ok = if rule.judged == Judged::Average {
        meets(avg)
    } else {
        per_term.iter().all(|r| meets(*r))
    };
    let mut improved = true;
    if rule.improvement_points.is_some()
        || rule.improvement_percent.is_some()
        || absence_cut.is_some()
    {
        match rate(person, base_terms) {
            Ok((base, _)) => {
                improved = rule.improved(absence_cut, base, avg);
                notes.push(format!(
                    "{} {base:.1}% before the case, {avg:.1}% now",
                    pseudonym(person)
                ));
            }
            Err(_) => {
                notes.push(format!(
                    "{} has no baseline attendance before the case",
                    pseudonym(person)
                ));
                if ok {
                    return Part::Unknown;
                }
                improved = false;
            }
        }
    } else {
        notes.push(format!("{} {avg:.1}%", pseudonym(person)));
    }
    if ok && improved {
        Part::Pass
    } else {
        Part::Fail
    }
}

/// With `baseline_below`, only those who started below it are in scope;
/// someone with no baseline record is out of scope once the baseline
/// terms are covered, and undecided until then.
fn below_at_start<'m>(
    ctx: &Ctx,
    members: Vec<&'m Member>,
    base_terms: &[Period],
    below: f64,
    rate: &dyn Fn(PersonId, &[Period]) -> Rates,
    notes: &mut Vec<String>,
    parts: &mut Vec<Part>,
) -> Vec<&'m Member> {
    let base_window = Period {
        from: base_terms[0].from,
        to: base_terms[base_terms.len() - 1].to,
    };
    let base_complete = ctx.missing(SourceKind::Education, base_window).is_empty();
    members
        .into_iter()
        .filter(|m| match rate(m.person, base_terms) {
            Ok((base, _)) if base < below => true,
            Ok((base, _)) => {
                notes.push(format!(
                    "{} {base:.1}% before the case, not below {below}%: not in scope",
                    pseudonym(m.person)
                ));
                false
            }
            Err(_) if base_complete => {
                notes.push(format!(
                    "{} has no attendance record before the case: not in scope",
                    pseudonym(m.person)
                ));
                false
            }
            Err(_) => {
                notes.push(format!(
                    "{}: attendance before the case is not yet covered",
                    pseudonym(m.person)
                ));
                parts.push(Part::Unknown);
                false
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triangulate::tests::decide;
    use crate::triangulate::tests::*;

    #[test]
    fn attendance_scope_by_baseline() {
        let text = "type = \"attendance\"\nterms = 1\nthresholds = [{ percent = 50.0 }]\nbaseline_below = 50.0\nscope = \"children\"\n";
        let att = |term: &str, a: i32| crate::records::Event {
            kind: EventKind::Attendance,
            start: d(term),
            end: None,
            code: 0,
            measure: crate::records::Measure::from_raw(EventKind::Attendance, [100, a, 0, 100 - a]),
        };
        // 80% before the case: not very poor, so out of scope
        let data = one_child(
            "2020-01-02",
            vec![att("2019-09-01", 80), att("2020-01-01", 20)],
        );
        let dec = decide(&fw(), &data, &rule(text), "x", d("2020-04-15"));
        assert!(dec.not_applicable, "{dec:?}");
        // 30% before: in scope, judged on the term up to the claim
        let data = one_child(
            "2020-01-02",
            vec![att("2019-09-01", 30), att("2020-01-01", 20)],
        );
        let dec = decide(&fw(), &data, &rule(text), "x", d("2020-04-15"));
        assert_eq!(dec.verdict, Verdict::Contradicted);
        let data = one_child(
            "2020-01-02",
            vec![att("2019-09-01", 30), att("2020-01-01", 60)],
        );
        let dec = decide(&fw(), &data, &rule(text), "x", d("2020-04-15"));
        assert_eq!(dec.verdict, Verdict::Verified);
    }

    /// At the end of the school year the summer term counts once its rows
    /// are delivered and covered to the claim; without them, or for an
    /// autumn term in progress, the complete terms before it do.
    #[test]
    fn the_summer_term_counts_once_delivered() {
        let text = "type = \"attendance\"\nterms = 1\nthresholds = [{ percent = 90.0 }]\nscope = \"children\"\n";
        let att = |term: &str, a: i32| crate::records::Event {
            kind: EventKind::Attendance,
            start: d(term),
            end: None,
            code: 0,
            measure: crate::records::Measure::from_raw(EventKind::Attendance, [100, a, 0, 100 - a]),
        };
        let window = |data: &crate::triangulate::CaseData, claim: &str| {
            let dec = decide(&fw(), data, &rule(text), "x", d(claim));
            (dec.verdict, dec.evidence[0].window.unwrap().to_string())
        };
        let spring_poor = vec![att("2020-01-01", 50), att("2020-04-01", 95)];
        let data = one_child("2019-09-02", spring_poor.clone());
        assert_eq!(
            window(&data, "2020-07-20"),
            (Verdict::Verified, "2020-04-01..2020-07-20".to_string())
        );
        // the last day of July: the summer term is complete anyway
        assert_eq!(
            window(&data, "2020-07-31"),
            (Verdict::Verified, "2020-04-01..2020-07-31".to_string())
        );
        // covered only to June: not delivered, so spring is judged
        let mut short = data.clone();
        for c in short.coverage.values_mut() {
            *c = vec![crate::records::Period {
                from: d("2000-01-01"),
                to: d("2020-06-30"),
            }];
        }
        assert_eq!(
            window(&short, "2020-07-20"),
            (Verdict::Contradicted, "2020-01-01..2020-03-31".to_string())
        );
        // no summer row: spring again
        let data = one_child("2019-09-02", spring_poor[..1].to_vec());
        assert_eq!(window(&data, "2020-07-20").0, Verdict::Contradicted);
        // an autumn term in progress never counts
        let data = one_child(
            "2019-09-02",
            vec![att("2020-04-01", 50), att("2020-09-01", 95)],
        );
        assert_eq!(
            window(&data, "2020-12-20"),
            (Verdict::Contradicted, "2020-04-01..2020-07-31".to_string())
        );
    }

    fn load(rule: &str) -> Result<Framework, crate::framework::FrameworkError> {
        let text = format!(
            "[framework]\nid = \"a\"\ncouncil = \"T\"\ntitle = \"T\"\nversion = \"1\"\n[settings]\nsignificant_reduction_percent = 50.0\n\n[[problems]]\nid = \"p\"\nnumber = \"1\"\ntitle = \"P\"\n\n[[outcomes]]\nid = \"A-1\"\nproblem = \"p\"\nwording = \"w\"\n[outcomes.rule]\ntype = \"attendance\"\nterms = 2\n{rule}"
        );
        Framework::parse(std::path::Path::new("a.toml"), &text)
    }

    #[test]
    fn flat_keys_become_typed() {
        let fw =
            load("exclude_authorised = true\naverage = false\nabsence_reduction_setting = true\n")
                .unwrap_or_else(|e| panic!("{e}"));
        let Rule::Attendance(a) = &fw.outcomes[0].rule else {
            panic!()
        };
        assert_eq!(
            (a.possible, a.judged, a.absence_reduction),
            (
                Possible::LessAuthorised,
                Judged::EveryTerm,
                Some(Percent::Setting)
            )
        );
        let fw = load("thresholds = [{ percent = 90.0 }]\n").unwrap_or_else(|e| panic!("{e}"));
        let Rule::Attendance(a) = &fw.outcomes[0].rule else {
            panic!()
        };
        assert_eq!(
            (a.possible, a.judged),
            (Possible::AllSessions, Judged::Average)
        );
    }

    #[test]
    fn a_fixed_and_a_council_absence_reduction_contradict() {
        let err = load("absence_reduction_percent = 30.0\nabsence_reduction_setting = true\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot both be given"), "{err}");
    }
}
