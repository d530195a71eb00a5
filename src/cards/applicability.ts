// Whether each regime in the regulatory map applies, as far as the record and the user's card.json can say:
// the thresholds and dates of the EU AI Act (general-purpose AI models, high-risk systems) and of the PRC
// Interim Measures for generative AI services, with this run's training compute set against them.
// Sources (cited by their official identifiers; the card fetches nothing):
// - Regulation (EU) 2024/1689 (AI Act), OJ L 12.7.2024: in force 1 Aug 2024; Art. 113 dates (GPAI obligations
//   2 Aug 2025, most of the rest incl. Annex III high-risk 2 Aug 2026); Art. 51(2): systemic risk presumed
//   above 10^25 FLOP; Art. 53(1)(a) + Annex XI; Art. 11 + Annex IV.
// - Commission Guidelines on the scope of the obligations for providers of general-purpose AI models
//   (18 July 2025): training compute above 10^23 FLOP and the ability to generate language (text or audio),
//   text-to-image or text-to-video is the indicative criterion for a GPAI model.
// - Digital Omnibus on AI (political agreement 7 May 2026; reported adopted in June 2026):
//   Annex III high-risk obligations from 2 Dec 2027, Annex I from 2 Aug 2028.
// - Interim Measures for the Management of Generative AI Services (CAC and six departments, Order No. 15,
//   in force 15 Aug 2023), Art. 2: services generating text, images, audio, video offered to the public in
//   the PRC; Art. 17: security assessment and algorithm filing for services with public-opinion attributes.
import type { RunRecord } from '../ledger/record.js';
import type { CardUserInfo } from './user-info.js';
import { trainingFlops } from './compliance.js';

export const GPAI_FLOP = 1e23;
export const SYSTEMIC_RISK_FLOP = 1e25;

export interface Applicability {
  regime: string;
  /** When the regime applies (its test), in one sentence. */
  appliesWhen: string;
  /** What the record and card.json say about this model against that test. */
  thisModel: string;
  dates: string;
  sources: string;
}

/** '12.6 orders of magnitude below 10^23 FLOP' (or 'above ...'). */
export function comparedWith(flops: number, threshold: number, name: string): string {
  const exp = Math.round(Math.log10(threshold));
  if (!(flops > 0)) return `no training compute recorded to compare with ${name} (10^${exp} FLOP)`;
  const gap = Math.log10(threshold / flops);
  return gap > 0
    ? `${gap.toFixed(1)} orders of magnitude below ${name} (10^${exp} FLOP)`
    : `above ${name} (10^${exp} FLOP) by a factor of ${(flops / threshold).toPrecision(2)}`;
}

const intended = (u: CardUserInfo) =>
  u.intendedUse ? `intended use (card.json): "${u.intendedUse.trim().split('\n')[0].slice(0, 160)}"` : undefined;

export function applicability(r: RunRecord, u: CardUserInfo): Applicability[] {
  const t = trainingFlops(r);
  const flopText = `this run's training: ${t.flops.toExponential(2)} FLOP (${t.caveat})`;
  const outputs = r.model.outputs?.map((o) => o.meaning ?? o.dtype).join('; ');
  const what = outputs ? `the recorded output is ${outputs}` : 'the record does not say what the model outputs';
  return [
    {
      regime: 'EU AI Act: general-purpose AI model (Art. 53, Annex XI)',
      appliesWhen:
        'A model of significant generality; the Commission takes training compute above 10^23 FLOP with the ' +
        'ability to generate language, images or video as the indicative criterion. Systemic risk is presumed ' +
        'above 10^25 FLOP (Art. 51(2)).',
      thisModel:
        `${flopText}: ${comparedWith(t.flops, GPAI_FLOP, 'the GPAI criterion')} and ` +
        `${comparedWith(t.flops, SYSTEMIC_RISK_FLOP, 'the systemic-risk presumption')}; ${what}. ` +
        (t.flops < GPAI_FLOP
          ? 'On compute, not presumed a GPAI model (compute is cumulative: add any pre-training of a starting ' +
            'model). Annex XI is shown as documentation practice.'
          : 'Compute meets the indicative criterion: the provider must assess generality.'),
      dates: 'In force 1 Aug 2024; GPAI obligations apply from 2 Aug 2025.',
      sources: 'Regulation (EU) 2024/1689 Art. 3(63), 51, 53, 113; Commission GPAI guidelines of 18 July 2025',
    },
    {
      regime: 'EU AI Act: high-risk AI system (Art. 6, 11, Annex IV)',
      appliesWhen:
        'Set by the intended purpose, not by compute: an Annex III use (employment, credit, education, ' +
        'biometrics, essential services, ...) or a safety component of an Annex I product.',
      thisModel:
        (intended(u) ?? 'intended use not given (set `intendedUse` in card.json)') +
        '; whether that is an Annex III use is for the provider to judge. Annex IV lists the technical ' +
        'documentation a high-risk system needs.',
      dates:
        'Annex III obligations: 2 Aug 2026 in the Regulation as adopted; the Digital Omnibus on AI (agreed ' +
        '7 May 2026) moves them to 2 Dec 2027 and Annex I to 2 Aug 2028 (check the Official Journal).',
      sources: 'Regulation (EU) 2024/1689 Art. 6, 11, 113, Annex III, Annex IV; Digital Omnibus on AI (2026)',
    },
    {
      regime: 'PRC Interim Measures for the Management of Generative AI Services',
      appliesWhen:
        'Services that generate text, images, audio or video offered to the public within the PRC (Art. 2); ' +
        'research and internal use not offered to the public are outside. Services with public-opinion ' +
        'attributes or social-mobilisation capacity also need a security assessment and algorithm filing (Art. 17).',
      thisModel:
        `${what}; ` +
        (u.modality ? `modality (card.json): ${u.modality}; ` : 'modality not given (set `modality` in card.json); ') +
        'whether it is offered to the public in the PRC is not recorded.',
      dates: 'Issued 10 July 2023 (Order No. 15 of the CAC and six departments); in force 15 Aug 2023.',
      sources: 'Interim Measures Art. 2, 4, 7, 8, 17, 19; PIPL Art. 51',
    },
  ];
}
