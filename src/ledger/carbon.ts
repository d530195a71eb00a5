// Grid carbon intensity by country, each figure with its source, and the conversion of energy to CO2e.
// The default is the world average; a region code (ISO 3166 alpha-2 or alpha-3) or a user figure
// overrides it (also through CANDOR_REGION / CANDOR_GRID_INTENSITY in the environment).
import { ArgumentError } from '../errors.js';

export interface GridIntensity {
  /** 'WORLD', an ISO 3166-1 alpha-3 code, or 'USER'. */
  region: string;
  name: string;
  /** Grams of CO2-equivalent per kWh of electricity. */
  gPerKWh: number;
  /** Where the figure comes from. */
  source: string;
  /** The year the figure describes, when known. */
  year?: number;
}

export const WORLD_AVERAGE: GridIntensity = {
  region: 'WORLD',
  name: 'World average',
  gPerKWh: 475,
  source: 'IEA, Global Energy & CO2 Status Report 2019: world average CO2 intensity of power generation in 2018',
  year: 2018,
};

const CODECARBON_2021 =
  'CodeCarbon data/private_infra/global_energy_mix.json (github.com/mlco2/codecarbon): ' +
  "carbon intensity of the country's 2021 electricity mix, as compiled by CodeCarbon from Our World in Data";

/** [alpha-3, alpha-2, name, gCO2e/kWh], all from CODECARBON_2021. */
const COUNTRIES: readonly [string, string, string, number][] = [
  ['AUS', 'AU', 'Australia', 531.247],
  ['AUT', 'AT', 'Austria', 147.573],
  ['BEL', 'BE', 'Belgium', 156.922],
  ['BRA', 'BR', 'Brazil', 158.592],
  ['CAN', 'CA', 'Canada', 128.461],
  ['CHE', 'CH', 'Switzerland', 47.101],
  ['CHN', 'CN', 'China', 544.355],
  ['DEU', 'DE', 'Germany', 365.477],
  ['DNK', 'DK', 'Denmark', 221.416],
  ['ESP', 'ES', 'Spain', 193.863],
  ['FIN', 'FI', 'Finland', 145.541],
  ['FRA', 'FR', 'France', 67.39],
  ['GBR', 'GB', 'United Kingdom', 268.329],
  ['IDN', 'ID', 'Indonesia', 623.157],
  ['IND', 'IN', 'India', 637.182],
  ['IRL', 'IE', 'Ireland', 363.608],
  ['ITA', 'IT', 'Italy', 340.794],
  ['JPN', 'JP', 'Japan', 478.545],
  ['KOR', 'KR', 'South Korea', 458.081],
  ['NLD', 'NL', 'Netherlands', 388.702],
  ['NOR', 'NO', 'Norway', 27.55],
  ['POL', 'PL', 'Poland', 660.122],
  ['RUS', 'RU', 'Russia', 359.937],
  ['SGP', 'SG', 'Singapore', 487.937],
  ['SWE', 'SE', 'Sweden', 45.817],
  ['TUR', 'TR', 'Turkey', 430.401],
  ['TWN', 'TW', 'Taiwan', 573.275],
  ['USA', 'US', 'United States', 379.26],
  ['ZAF', 'ZA', 'South Africa', 715.681],
];

/** The table by region code (alpha-3 and alpha-2 both resolve). */
export const GRID_INTENSITY: ReadonlyMap<string, GridIntensity> = new Map(
  COUNTRIES.flatMap(([a3, a2, name, g]) => {
    const entry: GridIntensity = { region: a3, name, gPerKWh: g, source: CODECARBON_2021, year: 2021 };
    return [
      [a3, entry],
      [a2, entry],
    ] as [string, GridIntensity][];
  }).concat([['WORLD', WORLD_AVERAGE]]),
);

export interface GridOptions {
  /** Region code; default process.env.CANDOR_REGION, else the world average. */
  region?: string;
  /** A figure of your own (gCO2e/kWh), e.g. from your utility; default process.env.CANDOR_GRID_INTENSITY. */
  gPerKWh?: number;
  /** Where your figure comes from (recorded beside it). */
  source?: string;
}

/** The grid intensity to use: the user's figure, else the region's, else the world average. */
export function gridIntensity(options: GridOptions = {}, env: NodeJS.ProcessEnv = process.env): GridIntensity {
  const userFigure =
    options.gPerKWh ??
    (env.CANDOR_GRID_INTENSITY !== undefined && env.CANDOR_GRID_INTENSITY !== ''
      ? Number(env.CANDOR_GRID_INTENSITY)
      : undefined);
  if (userFigure !== undefined) {
    if (!(Number.isFinite(userFigure) && userFigure >= 0))
      throw new ArgumentError(
        `gridIntensity: a grid intensity must be a non-negative number of gCO2e/kWh, got ${userFigure}`,
      );
    const fromEnv = options.gPerKWh === undefined;
    return {
      region: 'USER',
      name: 'User-supplied figure',
      gPerKWh: userFigure,
      source: options.source ?? (fromEnv ? 'user (CANDOR_GRID_INTENSITY)' : 'user (no source given)'),
    };
  }
  const region = options.region ?? (env.CANDOR_REGION || undefined);
  if (region === undefined) return WORLD_AVERAGE;
  const entry = GRID_INTENSITY.get(region.toUpperCase());
  if (!entry) {
    const known = [...new Set(COUNTRIES.map(([a3]) => a3))].join(', ');
    throw new ArgumentError(
      `gridIntensity: no figure for region '${region}'; known: WORLD, ${known}; ` +
        'or give gPerKWh (and its source) yourself',
    );
  }
  return entry;
}

/** Grams of CO2e for `joules` of electricity at `grid`. */
export function co2eGrams(joules: number, grid: GridIntensity): number {
  return (joules / 3.6e6) * grid.gPerKWh;
}
