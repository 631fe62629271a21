/**
 * `lat completion bash|zsh`: shell completion scripts generated from the program itself, so
 * every command and flag `lat --help` lists is completed, and nothing else.
 */
import type { Command, Option } from 'commander';

interface Described {
  name: string;
  description: string;
  /** Flags; those taking a value complete file names after them. */
  options: { flag: string; description: string; takesValue: boolean; choices?: readonly string[] }[];
}

function describe(program: Command): Described[] {
  const flags = (options: readonly Option[]) =>
    options
      .filter((o) => o.long)
      .map((o) => ({
        flag: o.long!,
        description: o.description,
        takesValue: o.required || o.optional,
        ...(o.argChoices ? { choices: o.argChoices } : {}),
      }));
  const globals = flags(program.options).filter((o) => o.flag !== '--version');
  return program.commands.map((c) => ({
    name: c.name(),
    description: c.description(),
    options: [
      ...flags(c.options),
      ...globals,
      { flag: '--help', description: 'show help', takesValue: false },
    ],
  }));
}

export function bashCompletion(program: Command): string {
  const commands = describe(program);
  const cases = commands
    .map((c) => {
      const valued = c.options.filter((o) => o.takesValue && !o.choices).map((o) => o.flag);
      const choices = c.options
        .filter((o) => o.choices)
        .map(
          (o) => `      ${o.flag}) COMPREPLY=($(compgen -W "${o.choices!.join(' ')}" -- "$cur")); return ;;`,
        )
        .join('\n');
      return `    ${c.name})
      opts="${c.options.map((o) => o.flag).join(' ')}"
      case "$prev" in
${choices ? `${choices}\n` : ''}${valued.length ? `      ${valued.join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;\n` : ''}      esac ;;`;
    })
    .join('\n');
  return `# bash completion for lat — add to ~/.bashrc:  source <(lat completion bash)
_lat_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" opts=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${commands.map((c) => c.name).join(' ')} --help --version" -- "$cur"))
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _lat_complete lat
`;
}

/** zsh's _arguments specs: `--flag[description]` plus `:value:_files` (or the choices) for flags with a value. */
export function zshCompletion(program: Command): string {
  const commands = describe(program);
  const esc = (s: string) =>
    s
      .replace(/\\/g, '\\\\')
      .replace(/'/g, "'\\''")
      .replace(/([[\]:])/g, '\\$1');
  const spec = (o: Described['options'][number]) =>
    `'${o.flag}[${esc(o.description)}]${o.choices ? `:value:(${o.choices.join(' ')})` : o.takesValue ? ':value:_files' : ''}'`;
  const cases = commands
    .map(
      (c) => `    ${c.name}) _arguments -s ${c.options.map(spec).join(' \\\n        ')} '*:file:_files' ;;`,
    )
    .join('\n');
  return `#compdef lat
# zsh completion for lat — add to ~/.zshrc:  source <(lat completion zsh)
_lat() {
  local -a commands
  commands=(
${commands.map((c) => `    '${c.name}:${esc(c.description)}'`).join('\n')}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  case "$words[2]" in
${cases}
  esac
}
if (( $+functions[compdef] )); then compdef _lat lat; else autoload -Uz compinit && compinit && compdef _lat lat; fi
`;
}
