// Generalisation hierarchies for the UCI Adult census table (../shared/data/adult), as data: age in 5-, 10- and
// 20-year intervals; education, marital-status, workclass and native-country in groups; '?' (missing) kept apart.
import type { Hierarchy } from './hierarchies.js';

export const ADULT_HIERARCHIES: Readonly<Record<string, Hierarchy>> = {
  age: { kind: 'interval', widths: [5, 10, 20] },
  education: {
    kind: 'groups',
    levels: [
      {
        Primary: ['Preschool', '1st-4th', '5th-6th', '7th-8th'],
        'Some-secondary': ['9th', '10th', '11th', '12th'],
        'HS-grad': ['HS-grad'],
        'Some-college': ['Some-college', 'Assoc-acdm', 'Assoc-voc'],
        Bachelors: ['Bachelors'],
        Graduate: ['Masters', 'Prof-school', 'Doctorate'],
      },
      {
        'Secondary-or-less': ['Primary', 'Some-secondary', 'HS-grad'],
        'Higher-education': ['Some-college', 'Bachelors', 'Graduate'],
      },
    ],
  },
  'marital-status': {
    kind: 'groups',
    levels: [
      {
        Married: ['Married-civ-spouse', 'Married-AF-spouse'],
        'Spouse-absent': ['Married-spouse-absent', 'Separated'],
        'Formerly-married': ['Divorced', 'Widowed'],
        'Never-married': ['Never-married'],
      },
      {
        'Ever-married': ['Married', 'Spouse-absent', 'Formerly-married'],
        'Never-married': ['Never-married'],
      },
    ],
  },
  workclass: {
    kind: 'groups',
    levels: [
      {
        Private: ['Private'],
        'Self-employed': ['Self-emp-not-inc', 'Self-emp-inc'],
        Government: ['Federal-gov', 'State-gov', 'Local-gov'],
        Unpaid: ['Without-pay', 'Never-worked'],
        Unknown: ['?'],
      },
    ],
  },
  'native-country': {
    kind: 'groups',
    levels: [
      {
        // The US with its territories, and Canada.
        'North-America': ['United-States', 'Outlying-US(Guam-USVI-etc)', 'Puerto-Rico', 'Canada'],
        'Latin-America': [
          'Mexico',
          'Cuba',
          'Jamaica',
          'Dominican-Republic',
          'Haiti',
          'Trinadad&Tobago',
          'Honduras',
          'El-Salvador',
          'Guatemala',
          'Nicaragua',
          'Columbia',
          'Ecuador',
          'Peru',
        ],
        Europe: [
          'England',
          'Scotland',
          'Ireland',
          'France',
          'Germany',
          'Holand-Netherlands',
          'Italy',
          'Portugal',
          'Greece',
          'Poland',
          'Hungary',
          'Yugoslavia',
        ],
        // 'South' is read as South Korea, as is usual for this data set.
        Asia: [
          'China',
          'Hong',
          'Taiwan',
          'Japan',
          'South',
          'Philippines',
          'Vietnam',
          'Laos',
          'Cambodia',
          'Thailand',
          'India',
          'Iran',
        ],
        Unknown: ['?'],
      },
    ],
  },
  race: { kind: 'groups', levels: [] },
  sex: { kind: 'groups', levels: [] },
};
