// dino-ref command line: placeholder until the CLI lands.
export async function main(argv: string[]): Promise<number> {
  console.log(`dino-ref ${argv.join(" ")}`);
  return 0;
}
