import type { InputHTMLAttributes } from 'react';

import { Field } from './Field';

type TextFieldProps = Omit<InputHTMLAttributes<HTMLInputElement>, 'onChange' | 'value'> & {
  label: string;
  name: string;
  value: string;
  onChange: (value: string) => void;
  error?: string | undefined;
};

/** A labelled one-line input with the API's error for its field (log-in and sign-up forms). */
export function TextField({ label, required, error, onChange, ...input }: TextFieldProps) {
  return (
    <Field label={label} required={required} error={error}>
      {(control) => <input {...control} {...input} onChange={(e) => onChange(e.target.value)} />}
    </Field>
  );
}
