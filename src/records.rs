//! Records: the vocabulary every stage shares once a partner row is parsed.
//!
//! In: nothing; this module only defines types. Out: [`SourceKind`] (what a
//! feed is), [`EventKind`] with each kind's code list, [`Event`] (one partner
//! event, minimised to what outcome rules need) with its typed [`Measure`],
//! [`Period`], [`Role`], and the school-term calendar in [`terms`].
//!
//! Promises: an [`Event`] carries no identifier and no free text, only a
//! kind, dates, a code index and the one number its kind has, so anything
//! holding events holds nothing that names a person.

pub mod terms;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The kinds of source outcomesd understands, one canonical format each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Case,
    Claims,
    Police,
    Education,
    Dwp,
    SocialCare,
    /// Council and commissioned services: youth services, children's
    /// centres, early education, and the like.
    Services,
}

impl SourceKind {
    pub const ALL: [SourceKind; 7] = [
        SourceKind::Case,
        SourceKind::Claims,
        SourceKind::Police,
        SourceKind::Education,
        SourceKind::Dwp,
        SourceKind::SocialCare,
        SourceKind::Services,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Case => "case",
            SourceKind::Claims => "claims",
            SourceKind::Police => "police",
            SourceKind::Education => "education",
            SourceKind::Dwp => "dwp",
            SourceKind::SocialCare => "social_care",
            SourceKind::Services => "services",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Event sources state a period; case and claim feeds do not.
    pub fn carries_events(self) -> bool {
        !matches!(self, SourceKind::Case | SourceKind::Claims)
    }
}

impl std::fmt::Display for SourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Every kind of event a source can report. The discriminant is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum EventKind {
    Offence = 1,
    Arrest = 2,
    AsbIncident = 3,
    AsbIntervention = 4,
    DomesticIncident = 5,
    MissingEpisode = 6,
    Attendance = 20,
    Suspension = 21,
    PermanentExclusion = 22,
    Enrolment = 23,
    BenefitSpell = 40,
    EmploymentSpell = 41,
    UcEarnings = 42,
    Referral = 60,
    EarlyHelp = 61,
    ChildInNeed = 62,
    ChildProtection = 63,
    LookedAfter = 64,
    Section47 = 65,
    YouthActivity = 80,
    ChildrenCentreContact = 81,
    EarlyEducation = 82,
    MaracReferral = 83,
    DashAssessment = 84,
    SubstanceTreatment = 85,
    NeetStatus = 86,
    Homelessness = 87,
    Eviction = 88,
    Tenancy = 89,
}

/// The field of a partner row that carries an event kind's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeField {
    Severity,
    Disposal,
    Status,
    Role,
    Benefit,
    ClosureReason,
}

/// Which field carries an event kind's code, and the codes allowed there.
#[derive(Debug, Clone, Copy)]
pub struct CodeSpec {
    pub field: CodeField,
    pub codes: &'static [&'static str],
    pub required: bool,
}

pub const DISPOSALS: &[&str] = &[
    "charge",
    "caution",
    "conditional_caution",
    "youth_caution",
    "community_resolution",
    "penalty_notice",
    "no_further_action",
    "released_under_investigation",
];
/// Disposals that count as positive (the first six of [`DISPOSALS`]).
pub const POSITIVE_DISPOSALS: usize = 6;
pub const SEVERITIES: &[&str] = &["standard", "serious"];
pub const INTERVENTION_STATUS: &[&str] = &["open", "completed", "breached"];
pub const DOMESTIC_ROLES: &[&str] = &["other", "victim", "perpetrator"];
pub const ENROLMENT_STATUS: &[&str] = &[
    "on_roll",
    "alternative_provision",
    "elective_home_education",
    "missing_education",
];
pub const BENEFITS: &[&str] = &[
    "jsa", "esa", "is", "ib", "sda", "ca", "uc", "pip", "dla", "hb",
];
/// Benefits that are out-of-work benefits (indices into [`BENEFITS`]).
pub const OUT_OF_WORK_BENEFITS: &[&str] = &["jsa", "esa", "is", "ib", "sda", "uc"];
pub const CLOSURE_REASONS: &[&str] = &["none", "stepped_down", "closed", "transferred"];
pub const TREATMENT_STATUS: &[&str] = &["open", "completed", "dropped_out"];
pub const NEET_STATUS: &[&str] = &["neet", "eet", "not_known"];
pub const HOMELESSNESS_OUTCOMES: &[&str] = &["presented", "prevented", "relieved", "accepted"];

impl EventKind {
    pub const ALL: [EventKind; 29] = [
        EventKind::Offence,
        EventKind::Arrest,
        EventKind::AsbIncident,
        EventKind::AsbIntervention,
        EventKind::DomesticIncident,
        EventKind::MissingEpisode,
        EventKind::Attendance,
        EventKind::Suspension,
        EventKind::PermanentExclusion,
        EventKind::Enrolment,
        EventKind::BenefitSpell,
        EventKind::EmploymentSpell,
        EventKind::UcEarnings,
        EventKind::Referral,
        EventKind::EarlyHelp,
        EventKind::ChildInNeed,
        EventKind::ChildProtection,
        EventKind::LookedAfter,
        EventKind::Section47,
        EventKind::YouthActivity,
        EventKind::ChildrenCentreContact,
        EventKind::EarlyEducation,
        EventKind::MaracReferral,
        EventKind::DashAssessment,
        EventKind::SubstanceTreatment,
        EventKind::NeetStatus,
        EventKind::Homelessness,
        EventKind::Eviction,
        EventKind::Tenancy,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventKind::Offence => "offence",
            EventKind::Arrest => "arrest",
            EventKind::AsbIncident => "asb_incident",
            EventKind::AsbIntervention => "asb_intervention",
            EventKind::DomesticIncident => "domestic_incident",
            EventKind::MissingEpisode => "missing_episode",
            EventKind::Attendance => "attendance",
            EventKind::Suspension => "suspension",
            EventKind::PermanentExclusion => "permanent_exclusion",
            EventKind::Enrolment => "enrolment",
            EventKind::BenefitSpell => "benefit_spell",
            EventKind::EmploymentSpell => "employment_spell",
            EventKind::UcEarnings => "uc_earnings",
            EventKind::Referral => "referral",
            EventKind::EarlyHelp => "early_help",
            EventKind::ChildInNeed => "child_in_need",
            EventKind::ChildProtection => "child_protection",
            EventKind::LookedAfter => "looked_after",
            EventKind::Section47 => "section47",
            EventKind::YouthActivity => "youth_activity",
            EventKind::ChildrenCentreContact => "children_centre_contact",
            EventKind::EarlyEducation => "early_education",
            EventKind::MaracReferral => "marac_referral",
            EventKind::DashAssessment => "dash_assessment",
            EventKind::SubstanceTreatment => "substance_treatment",
            EventKind::NeetStatus => "neet_status",
            EventKind::Homelessness => "homelessness",
            EventKind::Eviction => "eviction",
            EventKind::Tenancy => "tenancy",
        }
    }

    pub fn source(self) -> SourceKind {
        match self as u8 {
            1..=19 => SourceKind::Police,
            20..=39 => SourceKind::Education,
            40..=59 => SourceKind::Dwp,
            60..=79 => SourceKind::SocialCare,
            _ => SourceKind::Services,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }

    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| *k as u8 == v)
    }

    /// Spells have a start and (perhaps) an end; the rest are dated events.
    pub fn is_spell(self) -> bool {
        matches!(
            self,
            EventKind::AsbIntervention
                | EventKind::Enrolment
                | EventKind::BenefitSpell
                | EventKind::EmploymentSpell
                | EventKind::UcEarnings
                | EventKind::EarlyHelp
                | EventKind::ChildInNeed
                | EventKind::ChildProtection
                | EventKind::LookedAfter
                | EventKind::Section47
                | EventKind::EarlyEducation
                | EventKind::SubstanceTreatment
                | EventKind::NeetStatus
                | EventKind::Tenancy
        )
    }

    pub fn code_spec(self) -> Option<CodeSpec> {
        let spec = |field, codes, required| {
            Some(CodeSpec {
                field,
                codes,
                required,
            })
        };
        match self {
            EventKind::Offence => spec(CodeField::Severity, SEVERITIES, false),
            EventKind::Arrest => spec(CodeField::Disposal, DISPOSALS, true),
            EventKind::AsbIntervention => spec(CodeField::Status, INTERVENTION_STATUS, true),
            EventKind::DomesticIncident => spec(CodeField::Role, DOMESTIC_ROLES, true),
            EventKind::Enrolment => spec(CodeField::Status, ENROLMENT_STATUS, true),
            EventKind::BenefitSpell => spec(CodeField::Benefit, BENEFITS, true),
            EventKind::EarlyHelp
            | EventKind::ChildInNeed
            | EventKind::ChildProtection
            | EventKind::LookedAfter
            | EventKind::Section47 => spec(CodeField::ClosureReason, CLOSURE_REASONS, false),
            EventKind::SubstanceTreatment => spec(CodeField::Status, TREATMENT_STATUS, true),
            EventKind::NeetStatus => spec(CodeField::Status, NEET_STATUS, true),
            EventKind::Homelessness => spec(CodeField::Status, HOMELESSNESS_OUTCOMES, true),
            _ => None,
        }
    }

    /// The name of an event's code, for evidence and reports.
    pub fn code_name(self, code: u8) -> Option<&'static str> {
        self.code_spec()
            .and_then(|s| s.codes.get(code as usize).copied())
    }

    /// The code number of a code name (used by framework rules).
    pub fn code_of(self, name: &str) -> Option<u8> {
        self.code_spec()
            .and_then(|s| s.codes.iter().position(|c| *c == name))
            .map(|p| p as u8)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One partner event, minimised to what outcome rules need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Event {
    pub kind: EventKind,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    /// Index into the kind's code list (disposal, benefit, role, ...).
    pub code: u8,
    /// The number the kind carries, if any.
    pub measure: Measure,
}

/// Sessions of one pupil's attendance record for one term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Sessions {
    pub possible: i32,
    pub attended: i32,
    pub authorised: i32,
    pub unauthorised: i32,
}

/// What an event measures, typed by its kind: attendance has sessions, a
/// suspension days, UC earnings pence per assessment period, a DASH
/// assessment a score; every other kind nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Measure {
    #[default]
    None,
    Attendance(Sessions),
    Days(u32),
    Pence(i32),
    Score(i32),
}

impl Measure {
    /// The measure of a `kind` event from its four stored numbers (the
    /// store's packed form, kept so no data migrates).
    pub fn from_raw(kind: EventKind, v: [i32; 4]) -> Measure {
        match kind {
            EventKind::Attendance => Measure::Attendance(Sessions {
                possible: v[0],
                attended: v[1],
                authorised: v[2],
                unauthorised: v[3],
            }),
            EventKind::Suspension => Measure::Days(v[0].max(0) as u32),
            EventKind::UcEarnings => Measure::Pence(v[0]),
            EventKind::DashAssessment => Measure::Score(v[0]),
            _ => Measure::None,
        }
    }

    /// The four stored numbers (unused ones zero).
    pub fn raw(self) -> [i32; 4] {
        match self {
            Measure::None => [0; 4],
            Measure::Attendance(s) => [s.possible, s.attended, s.authorised, s.unauthorised],
            Measure::Days(d) => [i32::try_from(d).unwrap_or(i32::MAX), 0, 0, 0],
            Measure::Pence(p) | Measure::Score(p) => [p, 0, 0, 0],
        }
    }

    /// Days (suspension days); zero for any other measure.
    pub fn days(self) -> i64 {
        match self {
            Measure::Days(d) => i64::from(d),
            _ => 0,
        }
    }

    /// Pence (UC earnings); zero for any other measure.
    pub fn pence(self) -> i32 {
        match self {
            Measure::Pence(p) => p,
            _ => 0,
        }
    }

    /// A score (DASH); zero for any other measure.
    pub fn score(self) -> i32 {
        match self {
            Measure::Score(s) => s,
            _ => 0,
        }
    }

    /// Attendance sessions; all zero for any other measure.
    pub fn sessions(self) -> Sessions {
        match self {
            Measure::Attendance(s) => s,
            _ => Sessions::default(),
        }
    }
}

impl Event {
    /// The last day this event touches (the start for a dated event, the end
    /// for a closed spell, `open_until` for an open one).
    pub fn last_day(&self, open_until: NaiveDate) -> NaiveDate {
        match (self.kind.is_spell(), self.end) {
            (false, _) => self.start,
            (true, Some(e)) => e,
            (true, None) => open_until.max(self.start),
        }
    }
}

/// An inclusive date range, e.g. a delivery's period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash, PartialOrd, Ord)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from <= d && d <= self.to
    }
    pub fn overlaps(&self, from: NaiveDate, to: NaiveDate) -> bool {
        self.from <= to && from <= self.to
    }
    /// Parses `FROM..TO` (inclusive ISO dates).
    pub fn parse(s: &str) -> Option<Period> {
        let (a, b) = s.trim().split_once("..")?;
        let p = Period {
            from: NaiveDate::parse_from_str(a.trim(), "%Y-%m-%d").ok()?,
            to: NaiveDate::parse_from_str(b.trim(), "%Y-%m-%d").ok()?,
        };
        (p.from <= p.to).then_some(p)
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.from, self.to)
    }
}

/// Role of a member within a keyworker case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    MainCarer,
    Adult,
    Child,
    Other,
}

impl Role {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "main_carer" => Role::MainCarer,
            "adult" => Role::Adult,
            "child" => Role::Child,
            "other" => Role::Other,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed measure packs back into exactly the four numbers ingest has
    /// always stored for each kind, so stored events need no migration.
    #[test]
    fn measures_pack_as_before() {
        for kind in EventKind::ALL {
            let raw = match kind {
                EventKind::Attendance => [140, 130, 5, 5],
                EventKind::Suspension => [3, 0, 0, 0],
                EventKind::UcEarnings => [41250, 0, 0, 0],
                EventKind::DashAssessment => [14, 0, 0, 0],
                _ => [0; 4],
            };
            assert_eq!(Measure::from_raw(kind, raw).raw(), raw, "{kind}");
        }
        let m = Measure::from_raw(EventKind::Attendance, [140, 130, 5, 5]);
        assert_eq!(m.sessions().authorised, 5);
        assert_eq!(
            Measure::from_raw(EventKind::Suspension, [3, 0, 0, 0]).days(),
            3
        );
        assert_eq!(Measure::from_raw(EventKind::Offence, [0; 4]), Measure::None);
    }
}
